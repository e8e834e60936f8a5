import DropProtocol
import Foundation
import GcryptKit
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import SealEnvelope
import SealPKI
import SealServer
import SealTLS
import ServiceLifecycle

/// `sealdrop server serve`: the HTTPS front of a server root (docs/HTTP.md). It writes
/// uploads into the inbox exactly as a local client does and serves the outbox and the
/// notification log; deciding what to accept stays with the ingester.
public struct Gateway: Sendable {
    public let root: ServerRoot
    let callers: Callers
    let tls: TLSConfiguration
    let limits: GatewayLimits
    let limiter: ClientLimiter
    let follower: LogFollower
    let logger: Logger

    /// Loads the CA, the TLS certificate and its key (a key file decrypted with `secret`, its
    /// passphrase, then kept in libgcrypt; or the token key, unlocked with `secret`, its PIN)
    /// and opens the catalogue.
    public init(root: ServerRoot, secret: SecretBytes, limits: GatewayLimits, logger: Logger) throws {
        self.root = root
        let authority = try root.authorityCertificate()
        let identity = try root.tlsIdentity(secret: secret)
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: [.certificate(try NIOSSLCertificate(bytes: identity.certificate.der, format: .der))],
            privateKey: .privateKey(NIOSSLPrivateKey(customPrivateKey: TLSKey(identity.key))))
        tls.minimumTLSVersion = .tlsv13
        // Registration and the CA certificate need no client certificate; every other path
        // checks for one. A certificate that is presented is checked at the handshake.
        tls.certificateVerification = .optionalVerification
        tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: authority.der, format: .der)])
        self.tls = tls
        callers = Callers(authority: authority, catalogue: try root.catalogue())
        self.limits = limits
        limiter = ClientLimiter(limits)
        follower = LogFollower(root: root)
        self.logger = logger
    }

    /// The HTTPS application on `host:port` (port 0: any free port), with `services` run
    /// beside it (the ingester); `onRunning` is told the port bound.
    public func application(
        host: String, port: Int, services: [any Service] = [], onRunning: @escaping @Sendable (Int) async -> Void
    ) throws -> some ApplicationProtocol {
        let callers = self.callers
        let server = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .seconds(limits.headerTimeout.components.seconds)))
        let follower = self.follower
        let keepAlive = Double(limits.keepAliveInterval.components.seconds)
        return Application(
            router: router(),
            // Off the event loop: the check reads the catalogue.
            server: try .tls(server, configuration: TLSChannelConfiguration(
                tlsConfiguration: tls, customAsyncVerificationCallback: { chain in callers.verifyHandshake(chain) })),
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), serverName: "sealdrop",
                availableConnectionsDelegate: MaximumAvailableConnections(limits.maximumConnections)),
            services: services + [BlockingService(name: "notification log follower") { stop in
                try follower.run(until: stop, keepAlive: keepAlive)
            }],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    func router() -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        router.add(middleware: JSONErrorMiddleware(logger: logger))
        let v1 = router.group("v1")
        v1.get("certificates/:file") { _, context in try self.certificate(context) }
        v1.post("registrations") { request, context in try await self.register(request, context) }
        v1.get("registrations/:user/:answer") { _, context in try self.registration(context) }
        v1.post("drops") { request, context in try await self.upload(request, context) }
        v1.get("verdicts/:id") { _, context in try await self.verdict(context) }
        v1.get("outbox") { _, context in try await self.listOutbox(context) }
        v1.get("outbox/:name") { _, context in try await self.outboxFile(context) }
        v1.delete("outbox/:name") { _, context in try await self.removeOutboxFile(context) }
        v1.get("log/head") { _, context in try await self.logHead(context) }
        v1.get("log/live") { request, context in try await self.liveLog(request, context) }
        v1.get("log") { request, context in try await self.log(request, context) }
        return router
    }

    // MARK: Who is calling

    /// The registered user behind the connection, counted against their request rate.
    func authenticate(_ context: GatewayContext) async throws -> Caller {
        guard let certificate = try await context.peerCertificate() else {
            throw GatewayError(.unauthorized, "this needs your client certificate: register first, then call with your profile's key")
        }
        let caller = try callers.caller(presenting: certificate)
        try admit("user " + caller.name)
        return caller
    }

    func admit(_ client: String) throws {
        if let wait = limiter.admit(client) {
            throw GatewayError(.tooManyRequests, "too many requests; wait \(wait) s", headers: [.retryAfter: "\(wait)"])
        }
    }

    // MARK: Public endpoints

    func certificate(_ context: GatewayContext) throws -> Response {
        try admit("address " + context.remoteAddress)
        let path: String
        switch context.parameters.get("file") {
        case "ca.crt": path = root.caCertificatePath
        case "encryption.crt": path = root.encryptionCertificatePath
        case "delivery.crt": path = root.deliveryCertificatePath
        default: throw GatewayError(.notFound, "the certificates are ca.crt, encryption.crt and delivery.crt")
        }
        let pem = try KeyFile.readBytes(path, limit: 64 << 10, followSymlinks: false)
        return Response(status: .ok, headers: [.contentType: "application/x-pem-file"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: pem)))
    }

    func register(_ request: Request, _ context: GatewayContext) async throws -> Response {
        try admit("address " + context.remoteAddress)
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 64 << 10)
        } catch {
            throw GatewayError(.contentTooLarge, "a certificate request is at most 64 KiB")
        }
        let pem = String(buffer: body)
        let csr: CertificateRequest
        let user: UserName
        do {
            csr = try CertificateRequest(pem: pem)
            guard csr.hasValidSelfSignature else { throw PKIError.badSignature("certificate request") }
            user = try csr.userName()
        } catch {
            throw GatewayError(.badRequest, "not a usable certificate request: \(error)")
        }
        _ = try Inbox.drop(Array(pem.utf8), into: root, suffix: ".csr")
        return JSONBody.response(.accepted, ["user": user.value, "answer": Outbox.answerName(for: csr.publicKey)])
    }

    func registration(_ context: GatewayContext) throws -> Response {
        try admit("address " + context.remoteAddress)
        guard let name = context.parameters.get("user"), let user = try? UserName(name) else {
            throw GatewayError(.badRequest, "that is not a user name")
        }
        guard let answer = context.parameters.get("answer"), answer.utf8.count == 16, answer.utf8.allSatisfy(\.isLowercaseHex) else {
            throw GatewayError(.badRequest, "the answer key is 16 lowercase hex digits, as POST /v1/registrations gave it")
        }
        return switch try root.registrationAnswer(user: user.value, answer: answer) {
        case .issued(let pem): JSONBody.response(.ok, ["state": "issued", "certificate": pem])
        case .refused(let reason): JSONBody.response(.ok, ["state": "refused", "reason": reason])
        case .pending: JSONBody.response(.ok, ["state": "pending"])
        }
    }

    // MARK: Registered users

    func upload(_ request: Request, _ context: GatewayContext) async throws -> Response {
        let caller = try await authenticate(context)
        guard let text = request.headers[.contentLength], let length = Int(text), length >= 0 else {
            throw GatewayError(.lengthRequired, "an upload needs a Content-Length")
        }
        guard length <= limits.maximumUploadBytes else {
            throw GatewayError(.contentTooLarge, "an upload is at most \(limits.maximumUploadBytes) bytes; this one says \(length)",
                               headers: [.connection: "close"])
        }
        guard limiter.beginUpload(caller.name) else {
            throw GatewayError(.tooManyRequests, "you have \(limits.maximumUploadsPerUser) uploads in progress; wait for one to finish",
                               headers: [.retryAfter: "1"])
        }
        defer { limiter.endUpload(caller.name) }
        let name = Inbox.uniqueName(suffix: ".seal")
        let sink = try FileSink(path: "\(root.inboxTemporary)/\(name)")
        do {
            try await receive(request.body, length: length, into: sink, context: context)
            try sink.commit(mode: 0o644, durable: true)
        } catch {
            sink.discard()
            throw error
        }
        try Inbox.publish(name, in: root)
        logger.info("upload", metadata: ["user": "\(caller.name)", "drop": "\(name)", "bytes": "\(length)"])
        return JSONBody.response(.accepted, ["drop": name])
    }

    /// Writes the body to `sink` as it arrives, checking first that it starts as an envelope
    /// or a bundle of envelopes (FORMAT.md §13) does; a body that stalls longer than the limit
    /// closes the connection.
    func receive(_ body: RequestBody, length: Int, into sink: FileSink, context: GatewayContext) async throws {
        let magics = [EnvelopeHeader.magic, Bundle.magic]
        let magicLength = EnvelopeHeader.magic.count
        let progress = Progress()
        let channel = context.channel
        let stall = limits.bodyStallTimeout
        let watchdog = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(1))
                if progress.idle > Double(stall.components.seconds) {
                    channel.close(promise: nil)
                    return
                }
            }
        }
        defer { watchdog.cancel() }
        var received = 0
        var start: [UInt8] = []
        for try await chunk in body {
            progress.touch()
            received += chunk.readableBytes
            guard received <= length else { throw GatewayError(.badRequest, "the body is longer than its Content-Length") }
            let bytes = Array(chunk.readableBytesView)
            if start.count < magicLength {
                start += bytes.prefix(magicLength - start.count)
                guard magics.contains(where: { $0.starts(with: start) }) else {
                    throw GatewayError(.badRequest, "that is not a sealdrop envelope or bundle (FORMAT.md); seal it with sealdrop first")
                }
            }
            try sink.write(bytes)
        }
        guard received == length, magics.contains(start) else {
            throw GatewayError(.badRequest, "the upload ended after \(received) of \(length) bytes")
        }
    }

    func verdict(_ context: GatewayContext) async throws -> Response {
        let caller = try await authenticate(context)
        guard let hex = context.parameters.get("id"), hex.utf8.count == 32, hex.utf8.allSatisfy(\.isLowercaseHex) else {
            throw GatewayError(.badRequest, "an envelope id is 32 lowercase hex digits")
        }
        let id = stride(from: 0, to: 32, by: 2).map { UInt8(hex.dropFirst($0).prefix(2), radix: 16)! }
        if try callers.catalogue.seenInboxName(id, senderKey: caller.keyFingerprint) != nil {
            return JSONBody.response(.ok, ["state": "accepted"])
        }
        if let refusal = try KeyFile.readBytesIfPresent("\(root.outbox(for: caller.name))/" + Outbox.refusal(id: hex), limit: 64 << 10,
                                                        followSymlinks: false) {
            return JSONBody.response(.ok, ["state": "refused", "reason": Refusal.reason(in: refusal)])
        }
        return JSONBody.response(.ok, ["state": "pending"])
    }

    struct Listing: Encodable {
        struct File: Encodable {
            let name: String
            let size: Int
        }
        let files: [File]
    }

    func listOutbox(_ context: GatewayContext) async throws -> Response {
        let caller = try await authenticate(context)
        let outbox = root.outbox(for: caller.name)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []
        let files = names.filter(Self.isOutboxName).sorted().compactMap { name -> Listing.File? in
            var info = stat()
            guard lstat("\(outbox)/\(name)", &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return nil }
            return Listing.File(name: name, size: Int(info.st_size))
        }
        return JSONBody.response(.ok, Listing(files: files))
    }

    func outboxFile(_ context: GatewayContext) async throws -> Response {
        let path = try await outboxPath(context)
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else {
            if errno == ENOENT { throw GatewayError(.notFound, "no such file in your outbox") }
            throw IOFailure(call: "open", path: path, code: errno)
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw GatewayError(.notFound, "no such file in your outbox")
        }
        let file = FileDescriptorBox(fd)
        return Response(
            status: .ok, headers: [.contentType: "application/octet-stream"],
            body: ResponseBody(contentLength: Int(info.st_size)) { writer in
                defer { file.close() }
                while let chunk = try file.read(upTo: 256 << 10) {
                    try await writer.write(ByteBuffer(bytes: chunk))
                }
                try await writer.finish(nil)
            })
    }

    func removeOutboxFile(_ context: GatewayContext) async throws -> Response {
        let path = try await outboxPath(context)
        guard unlink(path) == 0 else {
            if errno == ENOENT { throw GatewayError(.notFound, "no such file in your outbox") }
            throw IOFailure(call: "unlink", path: path, code: errno)
        }
        return Response(status: .noContent)
    }

    func outboxPath(_ context: GatewayContext) async throws -> String {
        let caller = try await authenticate(context)
        guard let name = context.parameters.get("name"), Self.isOutboxName(name) else {
            throw GatewayError(.badRequest, "that is not the name of an outbox file")
        }
        return "\(root.outbox(for: caller.name))/\(name)"
    }

    // MARK: The notification log

    func logHead(_ context: GatewayContext) async throws -> Response {
        _ = try await authenticate(context)
        guard let head = follower.currentHead else {
            throw GatewayError(.notFound, "no ingester has signed the log yet; start one (serve --ingest, or server watch)")
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: head)))
    }

    func log(_ request: Request, _ context: GatewayContext) async throws -> Response {
        _ = try await authenticate(context)
        let after = try Self.cursor(request)
        let lines = try follower.lines(after: after, limit: NotificationLog.linesPerRequest)
        var buffer = ByteBuffer()
        for line in lines {
            buffer.writeBytes(line.bytes)
            buffer.writeInteger(UInt8(ascii: "\n"))
        }
        return Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody(byteBuffer: buffer))
    }

    func liveLog(_ request: Request, _ context: GatewayContext) async throws -> Response {
        _ = try await authenticate(context)
        let start = try Self.cursor(request)
        let follower = self.follower
        let (id, updates) = follower.subscribe()
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"],
            body: ResponseBody { writer in
                defer { follower.unsubscribe(id) }
                var cursor = start
                var sentHead: [UInt8]?
                func sendNew() async throws {
                    // The head first: the lines read after it include every line it names.
                    let head = follower.currentHead
                    while true {
                        let lines = try follower.lines(after: cursor, limit: 1000)
                        guard let last = lines.last else { break }
                        var buffer = ByteBuffer()
                        for line in lines {
                            buffer.writeString("event: line\nid: \(line.seq)\ndata: ")
                            buffer.writeBytes(line.bytes)
                            buffer.writeString("\n\n")
                        }
                        try await writer.write(buffer)
                        cursor = last.seq
                    }
                    if let head, head != sentHead {
                        var buffer = ByteBuffer(string: "event: head\n")
                        for part in head.split(separator: UInt8(ascii: "\n")) {
                            buffer.writeString("data: ")
                            buffer.writeBytes(part)
                            buffer.writeString("\n")
                        }
                        buffer.writeString("\n")
                        try await writer.write(buffer)
                        sentHead = head
                    }
                }
                try await sendNew()
                // A stream ends when the server shuts down (the client reconnects from its cursor).
                try await withGracefulShutdownHandler {
                    for await update in updates {
                        switch update {
                        case .changed: try await sendNew()
                        case .keepAlive: try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                        }
                    }
                } onGracefulShutdown: {
                    follower.unsubscribe(id)
                }
                try await writer.finish(nil)
            })
    }

    // MARK: Helpers

    static func cursor(_ request: Request) throws -> Int {
        guard let text = request.uri.queryParameters.get("after") else { return 0 }
        guard let value = Int(text), value >= 0 else { throw GatewayError(.badRequest, "after= takes a line number (0 or more)") }
        return value
    }

    /// The names the server gives outbox files: no path, no hidden file.
    static func isOutboxName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        return (1...255).contains(bytes.count) && bytes[0] != UInt8(ascii: ".")
            && bytes.allSatisfy { $0.isLowercaseHex || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F }
    }

}

/// When bytes last arrived, for the stall watchdog.
final class Progress: @unchecked Sendable {
    private let lock = NSLock()
    private var last = ProcessInfo.processInfo.systemUptime

    func touch() { lock.withLock { last = ProcessInfo.processInfo.systemUptime } }
    var idle: Double { lock.withLock { ProcessInfo.processInfo.systemUptime - last } }
}

/// An open file streamed into a response, closed when the response ends.
final class FileDescriptorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    func read(upTo count: Int) throws -> [UInt8]? {
        try lock.withLock {
            var buffer = [UInt8](repeating: 0, count: count)
            while true {
                let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, count) }
                if n < 0, errno == EINTR { continue }
                guard n >= 0 else { throw IOFailure(call: "read", path: "outbox file", code: errno) }
                return n == 0 ? nil : Array(buffer.prefix(n))
            }
        }
    }

    func close() {
        lock.withLock {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}

/// A blocking loop (the ingester's watcher, the log follower) on its own thread, stopped
/// when the service group shuts down.
public struct BlockingService: Service {
    let name: String
    let body: @Sendable (StopSignal) throws -> Void

    public init(name: String, body: @escaping @Sendable (StopSignal) throws -> Void) {
        self.name = name
        self.body = body
    }

    public func run() async throws {
        let stop = StopSignal(signals: [])
        let body = self.body
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                    let thread = Thread {
                        do {
                            try body(stop)
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = name
                    thread.start()
                }
            } onCancel: {
                stop.stop()
            }
        } onGracefulShutdown: {
            stop.stop()
        }
    }
}
