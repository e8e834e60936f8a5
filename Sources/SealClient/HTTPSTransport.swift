import AsyncHTTPClient
import DropProtocol
import Foundation
import GcryptKit
import NIOCore
import NIOHTTP1
import NIOSSL
import SealEnvelope
import SealPKI
import SealTLS

/// The server's HTTPS gateway (docs/HTTP.md), through AsyncHTTPClient. TLS trusts only the
/// CA the profile pinned (never the system's store) and checks the host name; the client
/// certificate is the user's sealdrop certificate, its key kept in libgcrypt (TLSKey).
public final class HTTPSTransport: ServerTransport, @unchecked Sendable {
    public let location: String
    public var pollInterval: Double { 0.1 }
    let client: HTTPClient
    /// Where downloads wait until they are verified (the profile's spool folder).
    let spool: String

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// The server answered with an error status and its sentence.
        case refused(url: String, status: Int, message: String)
        /// No TLS connection could be made; `why` says what failed.
        case connection(url: String, why: String)
        /// An http:// URL: sealdrop never speaks plain HTTP.
        case plainHTTP(String)

        public var description: String {
            switch self {
            case .refused(let url, let status, let message): "\(url): the server answered \(status): \(message)"
            case .connection(let url, let why): "\(url): \(why)"
            case .plainHTTP(let url): "\(url): plain HTTP is refused; a gateway is reached with https://HOST:PORT only"
            }
        }
    }

    /// `url` is `https://HOST:PORT`. With no `authority`, the server's certificate is not
    /// checked: only to fetch the CA certificate whose fingerprint the user then compares.
    public init(url: String, authority: Certificate?, identity: (certificate: Certificate, key: any RSA.PrivateOperations)?, spool: String) throws {
        location = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.spool = spool
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv13
        if let authority {
            tls.trustRoots = .certificates([try NIOSSLCertificate(bytes: authority.der, format: .der)])
            tls.certificateVerification = .fullVerification
        } else {
            tls.certificateVerification = .none
        }
        if let identity {
            tls.certificateChain = [.certificate(try NIOSSLCertificate(bytes: identity.certificate.der, format: .der))]
            tls.privateKey = .privateKey(NIOSSLPrivateKey(customPrivateKey: TLSKey(identity.key)))
        }
        let configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(15), read: .seconds(120)))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    deinit { try? client.syncShutdown() }

    /// Whether `server` names a gateway rather than a directory.
    public static func isURL(_ server: String) -> Bool { server.lowercased().hasPrefix("https://") }

    // MARK: Requests

    struct Answer: Sendable {
        let status: Int
        let body: [UInt8]
    }

    /// One request; the body collected up to `limit` bytes. Error statuses other than those
    /// in `expected` become `Failure.refused` with the server's sentence.
    func request(_ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body? = nil, contentType: String? = nil,
                 limit: Int = 1 << 20, expected: Set<Int> = []) throws -> Answer {
        let url = location + path
        let client = self.client
        return try blocking {
            var request = HTTPClientRequest(url: url)
            request.method = method
            if let body { request.body = body }
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            let response = try await Self.execute(request, on: client)
            let status = Int(response.status.code)
            guard (200..<300).contains(status) || expected.contains(status) else { throw try await Self.refusal(response, url: url) }
            return Answer(status: status, body: Array(try await response.body.collect(upTo: limit).readableBytesView))
        }
    }

    /// Sends `request`: a failed connection becomes `Failure.connection` in words, and a 429
    /// is waited out as its Retry-After says and asked again (a minute at most in all).
    static func execute(_ request: HTTPClientRequest, on client: HTTPClient) async throws -> HTTPClientResponse {
        var waited = 0
        while true {
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .seconds(300))
            } catch {
                throw Failure.connection(url: request.url, why: explain(error))
            }
            guard response.status == .tooManyRequests, waited < 60,
                  let seconds = response.headers.first(name: "Retry-After").flatMap(Int.init), seconds > 0 else { return response }
            _ = try await response.body.collect(upTo: 64 << 10)
            try await Task.sleep(for: .seconds(seconds))
            waited += seconds
        }
    }

    /// The error for an answer the caller does not take: its status and the server's sentence.
    static func refusal(_ response: HTTPClientResponse, url: String) async throws -> Failure {
        let bytes = Array(try await response.body.collect(upTo: 64 << 10).readableBytesView)
        return .refused(url: url, status: Int(response.status.code), message: sentence(in: bytes, status: response.status))
    }

    /// The server's `{"error": ...}` sentence, escaped for a terminal.
    static func sentence(in body: [UInt8], status: HTTPResponseStatus) -> String {
        struct Body: Decodable { let error: String }
        return LogText.escaped((try? JSONDecoder().decode(Body.self, from: Data(body)))?.error ?? status.reasonPhrase)
    }

    /// Words for what failed underneath: above all, a server that is not the pinned one.
    static func explain(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("certificateVerify") || text.contains("unable to get local issuer") {
            return "the server's TLS certificate is not from the CA this profile pinned, or not for this host name "
                + "(possible man in the middle); nothing was sent"
        }
        if text.contains("CERTIFICATE_REQUIRED") || text.contains("CERTIFICATE_UNKNOWN") || text.contains("BAD_CERTIFICATE")
            || text.contains("alert") {
            return "the server refused the TLS handshake: it does not accept this profile's certificate (not registered there, or revoked)"
        }
        if text.contains("WRONG_VERSION_NUMBER") || text.contains("uncleanShutdown") || text.contains("http") && text.contains("plain") {
            return "the server did not speak TLS on this port (is it plain HTTP, or another service?)"
        }
        if text.contains("connectTimeout") || text.contains("Connection refused") || text.contains("connectionRefused") {
            return "cannot connect: is `sealdrop server serve` running there?"
        }
        return "the connection failed: \(text)"
    }

    // MARK: ServerTransport

    public func publishedCertificate(_ file: String) throws -> String {
        String(decoding: try request(.GET, "/v1/certificates/\(file)", limit: 64 << 10).body, as: UTF8.self)
    }

    public func prepareDrop() throws -> String {
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return "\(spool)/\(Inbox.uniqueName(suffix: ".seal"))"
    }

    public func send(drop path: String) throws {
        defer { unlink(path) }
        var info = stat()
        guard stat(path, &info) == 0 else { throw IOFailure(call: "stat", path: path, code: errno) }
        let chunks = FileChunks(path: path)
        _ = try request(.POST, "/v1/drops", body: .stream(chunks, length: .known(Int64(info.st_size))),
                        contentType: "application/vnd.sealdrop.envelope")
    }

    public func discard(drop path: String) { unlink(path) }

    public func sendRegistration(_ pem: String) throws {
        _ = try request(.POST, "/v1/registrations", body: .bytes(ByteBuffer(string: pem)), contentType: "application/pkcs10")
    }

    public func registrationAnswer(user: String, answer: String) throws -> RegistrationAnswer {
        struct Body: Decodable {
            let state: String
            let certificate: String?
            let reason: String?
        }
        let body = try JSONDecoder().decode(Body.self, from: Data(try request(.GET, "/v1/registrations/\(user)/\(answer)").body))
        switch (body.state, body.certificate, body.reason) {
        case ("issued", let pem?, _): return .issued(pem)
        case ("refused", _, let reason): return .refused(LogText.escaped(reason ?? "no reason given"))
        default: return .pending
        }
    }

    public func outboxFile(_ name: String, user: String, limit: Int) throws -> [UInt8]? {
        let answer = try request(.GET, "/v1/outbox/\(name)", limit: limit, expected: [404])
        return answer.status == 404 ? nil : answer.body
    }

    public func outboxCopy(_ name: String, user: String) throws -> (path: String, release: @Sendable () -> Void)? {
        let url = location + "/v1/outbox/\(name)"
        let path = try prepareDrop()
        let client = self.client
        let found = try blocking { () async throws -> Bool in
            let response = try await Self.execute(HTTPClientRequest(url: url), on: client)
            if response.status == .notFound { return false }
            guard response.status == .ok else { throw try await Self.refusal(response, url: url) }
            let sink = try FileSink(path: path)
            do {
                for try await chunk in response.body { try sink.write(Array(chunk.readableBytesView)) }
                try sink.commit(mode: 0o600, durable: false)
            } catch {
                sink.discard()
                throw error
            }
            return true
        }
        return found ? (path, { unlink(path) }) : nil
    }

    public func outboxListing(user: String) throws -> [String] {
        struct Listing: Decodable {
            struct File: Decodable { let name: String }
            let files: [File]
        }
        return try JSONDecoder().decode(Listing.self, from: Data(request(.GET, "/v1/outbox", limit: 16 << 20).body)).files.map(\.name)
    }

    public func removeFromOutbox(_ name: String, user: String) throws {
        _ = try request(.DELETE, "/v1/outbox/\(name)", expected: [404])
    }

    public var logSource: String { location + "/v1/log" }

    public func logHead() throws -> [UInt8]? {
        let answer = try request(.GET, "/v1/log/head", limit: LogHead.maximumBytes, expected: [404])
        return answer.status == 404 ? nil : answer.body
    }

    public func logLines(after seq: Int, offset: Int?) throws -> LogLines {
        var bytes: [UInt8] = []
        var next = seq
        // The gateway sends at most linesPerRequest lines a request: ask until a short answer.
        while true {
            let chunk = try request(.GET, "/v1/log?after=\(next)", limit: NotificationLog.maximumBytes).body
            bytes += chunk
            let lines = chunk.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) }
            next += lines
            if lines < NotificationLog.linesPerRequest { return LogLines(first: seq + 1, offset: nil, bytes: bytes) }
        }
    }

    /// Follows `GET /v1/log/live` on a task of its own; every event, and every reconnection
    /// after a dropped stream, wakes the caller through a pipe.
    public func watchLog(after seq: Int) throws -> LogWatch {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw IOFailure(call: "pipe", path: "log watch", code: errno) }
        let (readFD, writeFD) = (fds[0], fds[1])
        for fd in fds { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        let url = location + "/v1/log/live?after=\(seq)"
        let client = self.client
        let task = Task {
            func wake() {
                var byte: UInt8 = 1
                _ = write(writeFD, &byte, 1)
            }
            while !Task.isCancelled {
                do {
                    let response = try await client.execute(HTTPClientRequest(url: url), timeout: .hours(24 * 365))
                    guard response.status == .ok else { throw Failure.connection(url: url, why: "\(response.status)") }
                    // Once connected: whatever came while disconnected is read by the caller.
                    wake()
                    for try await _ in response.body { wake() }
                } catch {
                    if Task.isCancelled { break }
                }
                // The stream ended (the server restarted): reconnect after a pause.
                try? await Task.sleep(for: .seconds(1))
            }
            // Closed here, after the last write, so no write can reach a reused descriptor.
            close(writeFD)
        }
        return LogWatch(fd: readFD, drain: {
            var buffer = [UInt8](repeating: 0, count: 256)
            while read(readFD, &buffer, buffer.count) > 0 {}
        }, close: {
            task.cancel()
            close(readFD)
        })
    }
}

/// A file as an async sequence of buffers, for streaming an upload.
struct FileChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    struct AsyncIterator: AsyncIteratorProtocol {
        var source: FileSource?
        let path: String

        mutating func next() async throws -> ByteBuffer? {
            if source == nil { source = try FileSource(path: path, followSymlinks: false) }
            let chunk = try source!.read(upTo: 256 << 10)
            return chunk.isEmpty ? nil : ByteBuffer(bytes: chunk)
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(source: nil, path: path) }
}
