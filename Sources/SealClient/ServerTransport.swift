import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// How a profile reaches its server: its directory (same machine, or a shared file system)
/// or its HTTPS gateway (docs/HTTP.md). The client's flows (register, post, fetch, tail) are
/// written once against this; everything they receive is verified the same way whichever
/// carried it.
public protocol ServerTransport: Sendable {
    /// The server as the user named it: a directory or an https:// URL.
    var location: String { get }
    /// How often to look again while waiting for an answer.
    var pollInterval: Double { get }

    /// A certificate the server publishes: `ca.crt`, `encryption.crt` or `delivery.crt` (PEM).
    func publishedCertificate(_ file: String) throws -> String

    /// Where to write a drop (an envelope) before `send` delivers it.
    func prepareDrop() throws -> String
    /// Delivers a drop written at `path` (durably: once this returns, a crash loses nothing).
    func send(drop path: String) throws
    /// Forgets a drop that will not be sent.
    func discard(drop path: String)
    /// Delivers a PEM certificate request.
    func sendRegistration(_ pem: String) throws
    /// The answer to the registration of key `answer` (Outbox.answerName) for `user`.
    func registrationAnswer(user: String, answer: String) throws -> RegistrationAnswer

    /// A file from `user`'s outbox, at most `limit` bytes, or nil while it is not there.
    func outboxFile(_ name: String, user: String, limit: Int) throws -> [UInt8]?
    /// A file from `user`'s outbox as a local path to read (a fetch answer's envelope), or
    /// nil. `release` is called when the caller is done with it.
    func outboxCopy(_ name: String, user: String) throws -> (path: String, release: @Sendable () -> Void)?
    /// The names of the files in `user`'s outbox.
    func outboxListing(user: String) throws -> [String]
    /// Removes a collected file from `user`'s outbox (none there is fine).
    func removeFromOutbox(_ name: String, user: String) throws

    /// The signed head of the notification log, or nil while the server has signed none.
    func logHead() throws -> [UInt8]?
    /// What the log is called in errors: its path, or its URL.
    var logSource: String { get }
    /// Complete lines of the log from line `first` on, for some `first` at or before `after + 1`.
    /// `offset`, when known, is where line `after + 1` starts in the server's file: a reader
    /// that kept it reads only what is new, however long the log has grown.
    func logLines(after seq: Int, offset: Int?) throws -> LogLines
    /// A descriptor that becomes readable when the log may have changed, with `drain` to
    /// clear it; the caller polls it beside its stop signal.
    func watchLog(after seq: Int) throws -> LogWatch
}

/// Lines of the notification log as a transport read them.
public struct LogLines: Sendable {
    /// The number of the first line in `bytes`.
    public let first: Int
    /// Where `bytes` start in the server's file, when the transport reads that file.
    public let offset: Int?
    public let bytes: [UInt8]

    /// Where the line numbered `seq` ends in the server's file (the next line's offset); nil
    /// when that is not known or the line is not in `bytes`.
    public func end(ofLine seq: Int) -> Int? {
        guard let offset, seq >= first else { return nil }
        var remaining = seq - first + 1
        for (index, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            remaining -= 1
            if remaining == 0 { return offset + index + 1 }
        }
        return nil
    }
}

/// A wake-up source for a follower of the log.
public final class LogWatch: @unchecked Sendable {
    public let fd: Int32
    private let drainer: () -> Void
    private let closer: () -> Void

    init(fd: Int32, drain: @escaping () -> Void, close: @escaping () -> Void) {
        self.fd = fd
        drainer = drain
        closer = close
    }

    public func drain() { drainer() }
    deinit { closer() }
}

/// The server's directory, read and written directly (docs/SERVER.md).
public struct DirectoryTransport: ServerTransport {
    public let root: ServerRoot

    public init(root: ServerRoot) { self.root = root }

    public var location: String { root.path }
    public var pollInterval: Double { 0.05 }

    public func publishedCertificate(_ file: String) throws -> String {
        try KeyFile.readText(root.path + "/" + file)
    }

    public func prepareDrop() throws -> String {
        "\(root.inboxTemporary)/\(Inbox.uniqueName(suffix: ".seal"))"
    }

    public func send(drop path: String) throws {
        try Inbox.publish(path.split(separator: "/").last.map(String.init) ?? path, in: root)
    }

    public func discard(drop path: String) { unlink(path) }

    public func sendRegistration(_ pem: String) throws {
        _ = try Inbox.drop(Array(pem.utf8), into: root, suffix: ".csr")
    }

    public func registrationAnswer(user: String, answer: String) throws -> RegistrationAnswer {
        let found = try root.registrationAnswer(user: user, answer: answer)
        guard case .refused(let reason) = found else { return found }
        try removeFromOutbox(Outbox.registrationRefusal(answer: answer), user: user)
        return .refused(LogText.escaped(reason))
    }

    public func outboxFile(_ name: String, user: String, limit: Int) throws -> [UInt8]? {
        try KeyFile.readBytesIfPresent("\(root.outbox(for: user))/\(name)", limit: limit, followSymlinks: false)
    }

    public func outboxCopy(_ name: String, user: String) throws -> (path: String, release: @Sendable () -> Void)? {
        let path = "\(root.outbox(for: user))/\(name)"
        return FileManager.default.fileExists(atPath: path) ? (path, {}) : nil
    }

    public func outboxListing(user: String) throws -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.outbox(for: user))) ?? []).filter { !$0.hasPrefix(".") }
    }

    public func removeFromOutbox(_ name: String, user: String) throws {
        unlink("\(root.outbox(for: user))/\(name)")
    }

    public var logSource: String { root.notificationLogPath }

    public func logHead() throws -> [UInt8]? {
        try KeyFile.readBytesIfPresent(root.notificationHeadPath, limit: LogHead.maximumBytes, followSymlinks: false)
    }

    public func logLines(after seq: Int, offset: Int?) throws -> LogLines {
        let path = root.notificationLogPath
        if let offset, offset > 0, var file = try? FileSource(path: path, followSymlinks: false), file.size >= offset {
            // From the byte before `offset`, which must end line `seq`: otherwise the offset is
            // not this file's, and the whole log is read instead.
            if try file.skip(offset - 1) == offset - 1, try file.read(upTo: 1) == [UInt8(ascii: "\n")] {
                return LogLines(first: seq + 1, offset: offset, bytes: try file.read(upTo: NotificationLog.maximumBytes))
            }
        }
        return LogLines(first: 1, offset: 0,
                        bytes: try KeyFile.readBytesIfPresent(path, limit: NotificationLog.maximumBytes, followSymlinks: false) ?? [])
    }

    public func watchLog(after seq: Int) throws -> LogWatch {
        let watch = try Inotify.Watch(path: root.notificationLogPath, mask: Inotify.modified | Inotify.closedWrite)
        return LogWatch(fd: watch.fd, drain: { _ = watch.drain() }, close: { withExtendedLifetime(watch) {} })
    }
}

/// The transport for `server`, a directory or an https:// URL. `authority` is the pinned CA
/// (nil only to fetch the CA certificate the user is about to pin); `identity`, the user's
/// certificate and key, is needed by the gateway for everything but registration.
public func makeTransport(
    server: String, authority: Certificate?, identity: (certificate: Certificate, key: any RSA.PrivateOperations)? = nil, spool: String
) throws -> any ServerTransport {
    if server.lowercased().hasPrefix("http://") { throw HTTPSTransport.Failure.plainHTTP(server) }
    if HTTPSTransport.isURL(server) {
        return try HTTPSTransport(url: server, authority: authority, identity: identity, spool: spool)
    }
    return DirectoryTransport(root: ServerRoot(path: server))
}

extension ServerTransport {
    /// Seals `source` with `sealer` into a new drop and sends it; a failure leaves nothing behind.
    public func sendSealed(
        _ source: inout some ByteSource, name: String, kind: EnvelopeKind = .image, mediaType: String? = nil, sealer: EnvelopeSealer
    ) throws -> SealSummary {
        let path = try prepareDrop()
        var sink = try FileSink(path: path)
        do {
            let summary = try sealer.seal(from: &source, to: &sink, name: name, kind: kind, mediaType: mediaType)
            try sink.commit(mode: 0o644, durable: true)
            try send(drop: path)
            return summary
        } catch {
            sink.discard()
            discard(drop: path)
            throw error
        }
    }

    /// Sends complete envelopes (the files at `envelopes`) as one bundle drop (FORMAT.md §13),
    /// durably; a failure leaves nothing behind.
    public func sendBundle(_ envelopes: [String]) throws {
        let path = try prepareDrop()
        do {
            try FileSink.create(path, replace: false, durable: true) { sink in
                try sink.write(Bundle.header(lengths: try envelopes.map { try FileSource(path: $0, followSymlinks: false).size }))
                for envelope in envelopes {
                    var source = try FileSource(path: envelope, followSymlinks: false)
                    try source.copy(to: &sink)
                }
            }
            try send(drop: path)
        } catch {
            discard(drop: path)
            throw error
        }
    }

    /// The reason the server refused envelope `id` (hex), escaped for a terminal, its note
    /// collected from the outbox; nil while there is none.
    public func collectRefusal(id: String, user: String) throws -> String? {
        guard let json = try outboxFile(Outbox.refusal(id: id), user: user, limit: 64 << 10) else { return nil }
        try removeFromOutbox(Outbox.refusal(id: id), user: user)
        return LogText.escaped(Refusal.reason(in: json))
    }

    /// Sends `payload` as JSON in a signed message envelope (a fetch or renewal request).
    public func sendMessage(_ payload: some Encodable, name: String, mediaType: String, sealer: EnvelopeSealer) throws -> SealSummary {
        var source = MemorySource([UInt8](try JSONEncoder().encode(payload)))
        return try sendSealed(&source, name: name, kind: .message, mediaType: mediaType, sealer: sealer)
    }
}
