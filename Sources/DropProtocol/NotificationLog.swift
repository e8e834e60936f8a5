import Foundation
import SealEnvelope
import SealPKI

/// `notifications.jsonl`: one JSON object per accepted image, appended after its
/// transaction commits, each line holding the hash of the one before; and beside it
/// `notifications.head`, the last line's number and hash signed with the delivery key
/// (LogHead). Here: reading it as a client must, every line checked and chained up to a
/// signed head. The server's writing side is in SealServer.
public struct NotificationLog: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// `notifications.head` beside the log.
    public var headPath: String { Self.headPath(for: path) }

    public static func headPath(for logPath: String) -> String {
        (logPath.hasSuffix(".jsonl") ? String(logPath.dropLast(6)) : logPath) + ".head"
    }

    package static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(LogTime.format(date))
        }
        return encoder
    }()

    package static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = LogTime.parse(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "time is not an ISO 8601 time"))
            }
            return date
        }
        return decoder
    }()

    /// The position of the last complete line and the length of the file up to its end.
    package static func tail(fd: Int32, path: String) throws -> (LogHead.Position, off_t) {
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return (.start, 0) }
        // Read back far enough to hold the last complete line.
        var window = off_t(4096)
        while true {
            let start = max(0, size - window)
            var buffer = [UInt8](repeating: 0, count: Int(size - start))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, start) }
            guard n == buffer.count else { throw IOFailure(call: "pread", path: path, code: errno) }
            guard let lastNewline = buffer.lastIndex(of: UInt8(ascii: "\n")) else {
                if start == 0 { return (.start, 0) }
                window *= 2
                continue
            }
            let validLength = start + off_t(lastNewline + 1)
            let before = buffer[..<lastNewline]
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }
            if lineStart == nil && start > 0 {
                window *= 2
                continue
            }
            let line = Array(before[(lineStart ?? 0)...])
            guard let record = try? decoder.decode(NotificationRecord.self, from: Data(line)) else {
                throw IOFailure(call: "read", path: path, code: EINVAL, reason: "the last line is not a notification record")
            }
            return (LogHead.Position(seq: record.seq, hash: LogHead.hash(ofLine: line)), validLength)
        }
    }

    /// The most lines one `GET /v1/log` sends (docs/HTTP.md): a client asks again after a full answer.
    public static let linesPerRequest = 10_000

    /// The largest log a client reads (about three million notifications).
    public static let maximumBytes = 512 << 20

    /// A log line that is not what the server writes: the log was altered.
    public struct Corrupt: Error, Equatable, CustomStringConvertible {
        public let path: String
        public let line: Int
        public let reason: String

        public var description: String { "\(path): line \(line) is not a notification the server wrote: \(reason)" }
    }

    /// A log that does not match its signed head, or a head that does not extend the one a
    /// client verified before.
    public enum Untrusted: Error, Equatable, CustomStringConvertible {
        case badHead(String, String)
        case truncated(String, lines: Int, head: Int)
        case rewritten(String, seq: Int)
        case rolledBack(String, head: Int, known: Int)

        public var description: String {
            switch self {
            case .badHead(let path, let why): "\(path): the signed head does not verify (\(why))"
            case .truncated(let path, let lines, let head): "\(path): \(lines) lines, but the signed head names line \(head): the log was truncated"
            case .rewritten(let path, let seq): "\(path): the log differs from what the server signed at line \(seq): it was rewritten"
            case .rolledBack(let path, let head, let known): "\(path): the signed head names line \(head), but line \(known) was verified before: the log was rolled back"
            }
        }
    }

    /// What a client may show: every line up to the signed head, each checked as the server
    /// writes it and chained to the one before, the head's signature checked against
    /// `authority`, and the log shown to extend `known` (the head this client verified
    /// last). Lines after the head (appended, not signed yet) are left for later. Returns
    /// the records after `seq` and the position to remember.
    public static func verifiedRecords(
        at path: String, authority: Certificate, delivery: Certificate? = nil, known: LogHead.Position, after seq: Int
    ) throws -> (records: [NotificationRecord], head: LogHead.Position) {
        // The head first: the server appends lines before it signs them, so the log read
        // after it holds at least the lines it names.
        let headBytes: [UInt8]?
        do {
            headBytes = try KeyFile.readBytesIfPresent(headPath(for: path), limit: LogHead.maximumBytes, followSymlinks: false)
        } catch {
            throw Untrusted.badHead(headPath(for: path), "\(error)")
        }
        let bytes = try KeyFile.readBytesIfPresent(path, limit: maximumBytes, followSymlinks: false) ?? []
        return try verifiedRecords(
            head: headBytes, lines: bytes, first: 1, source: path, authority: authority, delivery: delivery, known: known, after: seq)
    }

    /// The same checks on lines however they came (a file, or `GET /v1/log` over HTTPS):
    /// `lines` are complete lines of the log from line `first` on, `head` the signed head's
    /// bytes (nil: the server has signed none). The chain is checked from `first`: its prev
    /// must be the zero hash at the start of the log or `known`'s hash when it follows
    /// `known`, and any line that `known` or the head names must hash as they say, so every
    /// line returned is bound by a signature and the head is shown to extend `known`.
    public static func verifiedRecords(
        head headBytes: [UInt8]?, lines bytes: [UInt8], first: Int, source: String, authority: Certificate,
        delivery: Certificate? = nil, known: LogHead.Position, after seq: Int
    ) throws -> (records: [NotificationRecord], head: LogHead.Position) {
        let headSource = source.hasSuffix(".jsonl") ? headPath(for: source) : source + " (head)"
        guard let headBytes else {
            // A server that never committed an image has signed nothing yet.
            guard known.seq == 0, bytes.isEmpty else { throw Untrusted.badHead(headSource, "it is missing") }
            return ([], known)
        }
        let head: LogHead
        do {
            head = try JSONDecoder().decode(LogHead.self, from: Data(headBytes))
            try head.verify(authority: authority, pinned: delivery)
        } catch {
            throw Untrusted.badHead(headSource, "\(error)")
        }
        guard head.seq >= known.seq else { throw Untrusted.rolledBack(source, head: head.seq, known: known.seq) }
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a torn line
        // From anywhere up to `known` (so the line `known` names is among them, or is the one before).
        precondition(first >= 1 && first - 1 <= known.seq, "lines must start at or before the known head")
        guard first - 1 + lines.count >= head.seq else {
            throw Untrusted.truncated(source, lines: first - 1 + lines.count, head: head.seq)
        }
        var records: [NotificationRecord] = []
        var prev: String? = first == 1 ? LogHead.Position.start.hash : first - 1 == known.seq ? known.hash : nil
        let decoded = decodeAndHash(lines, path: source, first: first)
        // Lines after the head are checked too (a forged one is reported), but not shown.
        for (index, result) in decoded.enumerated() {
            let number = first + index
            let (record, hash) = try result.get()
            if let prev, record.prev != prev { throw Untrusted.rewritten(source, seq: number) }
            prev = hash
            if record.seq == known.seq, hash != known.hash { throw Untrusted.rewritten(source, seq: known.seq) }
            if record.seq == head.seq, hash != head.hash { throw Untrusted.rewritten(source, seq: head.seq) }
            if record.seq > seq, record.seq <= head.seq { records.append(record) }
        }
        return (records, head.position)
    }

    /// Each line decoded and hashed, on every core for a long read (a new reader of a large
    /// log): the lines are independent until the chain is walked, in order, by the caller.
    static func decodeAndHash(
        _ lines: [ArraySlice<UInt8>], path: String, first: Int
    ) -> [Result<(NotificationRecord, String), any Error>] {
        lines.indices.concurrentMap(block: 4096) { index throws(any Error) in
            (try decode(lines[index], path: path, number: first + index), LogHead.hash(ofLine: lines[index]))
        }
    }

    /// One line, checked as the server writes it and numbered `number`.
    package static func decode(_ line: some Collection<UInt8>, path: String, number: Int) throws -> NotificationRecord {
        let record: NotificationRecord
        do {
            record = try decoder.decode(NotificationRecord.self, from: Data(line))
        } catch DecodingError.dataCorrupted(let context) {
            throw Corrupt(path: path, line: number, reason: context.debugDescription)
        } catch {
            throw Corrupt(path: path, line: number, reason: "not a JSON notification record")
        }
        guard record.seq == number else { throw Corrupt(path: path, line: number, reason: "seq \(record.seq) out of order") }
        return record
    }

    /// Every complete record in the log after `seq`, checked line by line but not against a
    /// head (the server's own reading, and fuzzing). A last line without its newline is a
    /// write in progress and is left for later.
    public static func records(at path: String, after seq: Int) throws -> [NotificationRecord] {
        guard let bytes = try KeyFile.readBytesIfPresent(path, limit: maximumBytes, followSymlinks: false) else { return [] }
        return try records(in: Data(bytes), path: path, after: seq)
    }

    /// The records of a log's bytes, checked as `records(at:after:)` says.
    package static func records(in data: Data, path: String, after seq: Int) throws -> [NotificationRecord] {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.removeLast()
        return try lines.enumerated().map { try decode($1, path: path, number: $0 + 1) }.filter { $0.seq > seq }
    }
}
