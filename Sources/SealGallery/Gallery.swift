import DropProtocol
import Foundation
import GcryptKit
import Hummingbird
import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import SealClient
import SealEnvelope
import SealPKI
import ServiceLifecycle

/// `sealdrop gallery`: the user's profile as a local web app on loopback. Keys stay in this
/// process: the page asks, this process fetches, verifies and decrypts (or seals and posts),
/// and the page shows what it was given. Over either transport, as the CLI.
public struct Gallery: Sendable {
    let profile: Profile
    let fetcher: Fetcher
    let poster: Poster
    let hub: FeedHub
    let access: GalleryAccess
    let cache: GalleryCache
    let uploads: GalleryUploads
    let logger: Logger
    /// The largest image the page may upload.
    public static let maximumUploadBytes = 256 << 20

    /// `key` is the user's key, unlocked by the caller.
    public init(profile: Profile, key: any RSA.PrivateOperations, logger: Logger) throws {
        self.profile = profile
        fetcher = try Fetcher(profile: profile, key: key)
        let signer = try RSASigner(key: key, certificate: profile.certificate())
        poster = Poster(profile: profile,
                        sealer: EnvelopeSealer(signer: signer, recipient: RSARecipient(key: try profile.encryptionCertificate().publicKey)),
                        transport: fetcher.transport)
        hub = FeedHub(feed: try fetcher.feed())
        access = GalleryAccess()
        cache = try GalleryCache(directory: profile.home + "/gallery")
        uploads = GalleryUploads(profile: profile)
        self.logger = logger
    }

    /// Removes what the page uploaded and never posted.
    public func close() { uploads.removeAll() }

    /// The address to print: the page with this run's token.
    public func address(host: String, port: Int) -> String {
        "http://\(host.contains(":") ? "[\(host)]" : host):\(port)/?token=\(access.token)"
    }

    public func application(host: String, port: Int, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        hub.start()
        let router = Router()
        router.add(middleware: GalleryGuard(access: access))
        router.get("/") { _, _ in Self.asset(GalleryAssets.page(csrf: access.csrf), type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in Self.asset(GalleryAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/app.css") { _, _ in Self.asset(GalleryAssets.style, type: "text/css; charset=utf-8") }
        router.get("/api/status") { _, _ in try await offLoop { try status() } }
        router.get("/api/feed") { request, _ in try await offLoop { try feed(after: Self.cursor(request)) } }
        router.get("/api/events") { request, _ in events(request) }
        router.post("/api/open") { request, _ in
            let name = try await Self.name(request)
            return try await offLoop { try open(name) }
        }
        router.get("/api/image") { request, _ in try image(request) }
        router.post("/api/upload") { request, _ in
            let name = try Self.uploadName(request)
            let body = try await request.body.collect(upTo: Self.maximumUploadBytes)
            return try await offLoop {
                let upload = try uploads.stage(Array(buffer: body), name: name)
                return JSON.response(.ok, ["upload": upload.id, "name": upload.name])
            }
        }
        router.post("/api/post") { request, _ in
            let ids = try await Self.uploadIDs(request)
            return try await offLoop { try post(ids) }
        }
        return Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "sealdrop gallery"),
            onServerRunning: { [access] channel in
                let bound = channel.localAddress?.port ?? port
                access.listen(host: host, port: bound)
                await onRunning(bound)
            },
            logger: logger)
    }

    // MARK: Handlers

    func status() throws -> Response {
        let certificate = try profile.certificate()
        return JSON.response(.ok, [
            "user": profile.settings.user, "server": profile.settings.server,
            "transport": profile.isRemote ? "https" : "directory",
            "subject": certificate.subject.description, "fingerprint": certificate.fingerprint.description,
            "not_after": LogTime.format(certificate.notAfter), "ca_fingerprint": profile.settings.caFingerprint,
            "feed": hub.problem ?? "connected",
        ])
    }

    struct Item: Encodable {
        let seq: Int
        let time: String
        let name: String
        let owner: String
        let mediaType: String
        let size: Int
        let fetched: Bool

        enum CodingKeys: String, CodingKey {
            case seq, time, name, owner, size, fetched
            case mediaType = "media_type"
        }
    }

    /// The verified records after `after`, newest first, at most the 500 newest.
    func feed(after: Int) throws -> Response {
        let records = try hub.feed.records(after: after).suffix(500).reversed()
        return JSON.response(.ok, records.map { record in
            Item(seq: record.seq, time: LogTime.format(record.time), name: record.name, owner: record.owner, mediaType: record.mediaType,
                 size: record.size, fetched: cache.has(record.name))
        })
    }

    /// Server-sent events: `seq` whenever the verified log grows past the page's cursor
    /// (`Last-Event-ID` when the browser reconnects); the page then asks `/api/feed`.
    func events(_ request: Request) -> Response {
        let (id, updates) = hub.listeners.subscribe()
        let hub = self.hub
        let start = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { Int($0) } ?? (try? Self.cursor(request)) ?? 0
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream"],
            body: ResponseBody { writer in
                defer { hub.listeners.unsubscribe(id) }
                try await writer.write(ByteBuffer(string: "retry: 1000\nevent: hello\nid: \(start)\ndata: \(start)\n\n"))
                // A page back from sleep hears at once of what came meanwhile.
                let latest = hub.latestSeq
                if latest > start { try await writer.write(ByteBuffer(string: "event: seq\nid: \(latest)\ndata: \(latest)\n\n")) }
                var sent = max(start, latest)
                try await withGracefulShutdownHandler {
                    for await update in updates {
                        switch update {
                        case .seq(let seq) where seq > sent:
                            try await writer.write(ByteBuffer(string: "event: seq\nid: \(seq)\ndata: \(seq)\n\n"))
                            sent = seq
                        case .seq: break
                        case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                } onGracefulShutdown: {
                    hub.finishAll()
                }
                try await writer.finish(nil)
            })
    }

    /// Fetches, verifies and decrypts `name` into the cache; says who signed it. Nothing of
    /// an image that fails is kept or shown: the answer is the reason only.
    func open(_ name: String) throws -> Response {
        do {
            let requestID = try fetcher.request(name)
            let delivered = try fetcher.receive(requestID, image: name, to: cache.imagePath(name), timeout: 60, replace: true)
            let provenance = GalleryCache.Provenance(
                name: name, owner: delivered.owner, posted: LogTime.format(delivered.created), mediaType: delivered.mediaType,
                size: Int(delivered.bytes), signedBy: delivered.signer.subject.description,
                fingerprint: delivered.signer.fingerprint.description, authority: try profile.pinnedAuthority().subject.description)
            try cache.record(provenance)
            return JSON.response(.ok, provenance)
        } catch let error as Fetcher.Failure {
            cache.forget(name)
            return JSON.response(.unprocessableContent, ["error": error.description, "verified": "no"])
        } catch let error as EnvelopeError {
            cache.forget(name)
            return JSON.response(.unprocessableContent, ["error": "verification failed: \(error)", "verified": "no"])
        } catch let error as PKIError {
            cache.forget(name)
            return JSON.response(.unprocessableContent, ["error": "verification failed: \(error)", "verified": "no"])
        }
    }

    /// A verified image from the cache, as its media type; `download=1` as an attachment.
    func image(_ request: Request) throws -> Response {
        guard let name = request.uri.queryParameters["name"].map(String.init), let provenance = cache.provenance(name),
              let bytes = cache.bytes(name) else {
            throw GalleryError(.notFound, "that image has not been opened and verified here")
        }
        var headers: HTTPFields = [.contentType: GalleryCache.safeMediaType(provenance.mediaType)]
        if request.uri.queryParameters["download"] == "1" {
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "image"
            headers[.contentDisposition] = "attachment; filename*=UTF-8''\(encoded)"
        }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    struct PostResult: Encodable {
        let upload: String
        let name: String
        /// accepted, refused (by the server), failed (not sent) or sent (no verdict yet).
        let state: String
        let reason: String?

        init(_ upload: GalleryUploads.Upload, _ state: String, _ reason: String? = nil) {
            self.upload = upload.id
            name = upload.name
            self.state = state
            self.reason = reason
        }
    }

    /// Seals and posts uploaded images as one batch, as `sealdrop post` does a folder (one
    /// batch key, one signature per group, one bundle where the transport takes it), then
    /// waits for the server's verdict on each. Every upload is gone afterwards, posted or not.
    func post(_ ids: [String]) throws -> Response {
        let taken = try uploads.take(ids)
        defer { taken.forEach { unlink($0.path) } }
        var results: [String: PostResult] = [:]
        var items: [BatchItem] = []
        var names: [String: String] = [:]
        var claimed: Set<String> = []
        for upload in taken {
            let name = EnvelopeHeader.normalizedName(upload.name)
            guard claimed.insert(name).inserted else {
                results[upload.id] = PostResult(upload, "failed", "another image of this post is named \(name) too: rename one")
                continue
            }
            items.append(BatchItem(input: upload.path, output: upload.path, discovered: false))
            names[upload.path] = name
        }
        let byPath = Dictionary(uniqueKeysWithValues: taken.map { ($0.path, $0) })
        let sent = try poster.send(items, names: names, file: { _ in "(gallery upload)" })
        var envelopes: [String: GalleryUploads.Upload] = [:]
        for result in sent.results {
            let upload = byPath[result.item.input]!
            switch result.outcome {
            case .done(let id, _): envelopes[id] = upload
            case .failed(let error): results[upload.id] = PostResult(upload, "failed", "\(error)")
            case .skipped(let reason): results[upload.id] = PostResult(upload, "failed", "\(reason)")
            }
        }
        let verdicts = try poster.verdicts(for: sent.posted, timeout: 60)
        for (id, upload) in envelopes {
            results[upload.id] = switch verdicts[id] {
            case .accepted: PostResult(upload, "accepted")
            case .refused(let reason): PostResult(upload, "refused", reason)
            case nil: PostResult(upload, "sent", "no verdict within 60 s: is the server ingesting? sealdrop status shows it when it comes")
            }
        }
        return JSON.response(.ok, ["results": taken.map { results[$0.id]! }])
    }

    // MARK: Request parts

    static func cursor(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters["after"] else { return 0 }
        guard let value = Int(text), value >= 0 else { throw GalleryError(.badRequest, "after must be a number (a seq)") }
        return value
    }

    static func name(_ request: Request) async throws -> String {
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              let name = object["name"] as? String, !name.isEmpty else {
            throw GalleryError(.badRequest, "send {\"name\": IMAGE}")
        }
        return name
    }

    /// `{"uploads": [ID, ...]}`: what to post, in order.
    static func uploadIDs(_ request: Request) async throws -> [String] {
        let body = try await request.body.collect(upTo: 64 << 10)
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
              let ids = object["uploads"] as? [String], !ids.isEmpty, ids.count <= GalleryUploads.maximumWaiting else {
            throw GalleryError(.badRequest, "send {\"uploads\": [ID, ...]} with the ids /api/upload gave (1 to \(GalleryUploads.maximumWaiting))")
        }
        return ids
    }

    static func uploadName(_ request: Request) throws -> String {
        guard let raw = request.headers[HTTPField.Name("X-Image-Name")!], let name = raw.removingPercentEncoding, !name.isEmpty else {
            throw GalleryError(.badRequest, "an upload names its image in X-Image-Name (percent-encoded)")
        }
        return name
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Runs blocking work (file I/O, RSA, waiting for the server) off the event loop.
func offLoop<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}
