import Foundation
import SealEnvelope
import SealPKI

/// `notifications.jsonl`: one JSON object per accepted image, appended after its
/// transaction commits, each line holding the hash of the one before; and beside it
/// `notifications.head`, the last line's number and hash signed with the delivery key
/// (LogHead). The catalogue is the truth: it holds every line's hash, `catchUp` appends
/// whatever the log lacks and re-signs the head, so a crash between commit and append only
/// delays a line, never loses or repeats one; a log whose end the server did not write is
/// rebuilt from the catalogue byte for byte.
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

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Self.timeFormatter.string(from: date))
        }
        return encoder
    }()

    static let decoder: JSONDecoder = {
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

    nonisolated(unsafe) static let timeFormatter: ISO8601DateFormatter = {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter
    }()

    /// Appends every notification the catalogue has beyond the log's last line (a torn last
    /// line, a crash mid-append, is cut off first), then signs the head with `signer` when it
    /// does not already name the catalogue's last line. A last line that is not the
    /// catalogue's, byte for byte, makes it rebuild the log instead. Returns how many lines
    /// were appended.
    @discardableResult
    public func catchUp(from catalogue: Catalogue, signer: RSASigner?) throws -> Int {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        defer { close(fd) }
        let last: LogHead.Position, validLength: off_t
        do {
            (last, validLength) = try Self.tail(fd: fd, path: path)
        } catch let failure as IOFailure where failure.code == EINVAL {
            return try rebuild(from: catalogue, signer: signer)
        }
        // A last line the catalogue never committed, or not byte for byte, was not written by the server.
        if last.seq > 0, try catalogue.lineHash(seq: last.seq) != last.hash {
            return try rebuild(from: catalogue, signer: signer)
        }
        let missing = try catalogue.notifications(after: last.seq)
        if !missing.isEmpty || lseek(fd, 0, SEEK_END) != validLength {
            guard ftruncate(fd, validLength) == 0 else { throw IOFailure(call: "ftruncate", path: path, code: errno) }
            lseek(fd, validLength, SEEK_SET)
            try AtomicFile.writeAll(missing.flatMap { $0.line + [UInt8(ascii: "\n")] }, to: fd, path: path)
            guard fsync(fd) == 0 else { throw IOFailure(call: "fsync", path: path, code: errno) }
        }
        try signHead(catalogue, signer: signer)
        return missing.count
    }

    /// Writes the whole log anew from the catalogue, the truth, and puts it in place
    /// atomically: the repair for a log whose end the server did not write. The lines are
    /// the ones the server wrote before, so every head signed before still holds.
    @discardableResult
    public func rebuild(from catalogue: Catalogue, signer: RSASigner?) throws -> Int {
        let records = try catalogue.notifications(after: 0)
        try AtomicFile.write(records.flatMap { $0.line + [UInt8(ascii: "\n")] }, to: path, mode: 0o644, replace: true)
        try signHead(catalogue, signer: signer)
        return records.count
    }

    /// Signs the catalogue's position into `notifications.head` unless the head says it already.
    func signHead(_ catalogue: Catalogue, signer: RSASigner?) throws {
        guard let signer else { return }
        let position = try catalogue.notificationPosition()
        if let head = try? LogHead.read(at: headPath), head.position == position,
           head.deliveryCertificate == Data(signer.certificate.der) {
            return
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(LogHead.make(position, signer: signer))), to: headPath, mode: 0o644, replace: true)
    }

    /// The position of the last complete line and the length of the file up to its end.
    static func tail(fd: Int32, path: String) throws -> (LogHead.Position, off_t) {
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
        let head: LogHead
        do {
            head = try LogHead.read(at: headPath(for: path))
            try head.verify(authority: authority, pinned: delivery)
        } catch FileError.missing {
            // A server that never committed an image has signed nothing yet.
            guard known.seq == 0, (try? KeyFile.readBytes(path, limit: 1, followSymlinks: false))?.isEmpty ?? true else {
                throw Untrusted.badHead(headPath(for: path), "it is missing")
            }
            return ([], known)
        } catch {
            throw Untrusted.badHead(headPath(for: path), "\(error)")
        }
        guard head.seq >= known.seq else { throw Untrusted.rolledBack(path, head: head.seq, known: known.seq) }
        let bytes: [UInt8]
        do {
            bytes = try KeyFile.readBytes(path, limit: maximumBytes, followSymlinks: false)
        } catch FileError.missing {
            bytes = []
        }
        var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.removeLast()  // after the last newline: empty, or a torn line
        guard lines.count >= head.seq else { throw Untrusted.truncated(path, lines: lines.count, head: head.seq) }
        var records: [NotificationRecord] = []
        var prev = LogHead.Position.start.hash
        // Lines after the head are checked too (a forged one is reported), but not shown.
        for (index, line) in lines.enumerated() {
            let record = try decode(line, path: path, number: index + 1)
            guard record.prev == prev else { throw Untrusted.rewritten(path, seq: index + 1) }
            prev = LogHead.hash(ofLine: line)
            if record.seq == known.seq, prev != known.hash { throw Untrusted.rewritten(path, seq: known.seq) }
            if record.seq == head.seq, prev != head.hash { throw Untrusted.rewritten(path, seq: head.seq) }
            if record.seq > seq, record.seq <= head.seq { records.append(record) }
        }
        return (records, head.position)
    }

    /// One line, checked as the server writes it and numbered `number`.
    static func decode(_ line: some Collection<UInt8>, path: String, number: Int) throws -> NotificationRecord {
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
        let bytes: [UInt8]
        do {
            bytes = try KeyFile.readBytes(path, limit: maximumBytes, followSymlinks: false)
        } catch FileError.missing {
            return []
        }
        return try records(in: Data(bytes), path: path, after: seq)
    }

    /// The records of a log's bytes, checked as `records(at:after:)` says.
    static func records(in data: Data, path: String, after seq: Int) throws -> [NotificationRecord] {
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        lines.removeLast()
        return try lines.enumerated().map { try decode($1, path: path, number: $0 + 1) }.filter { $0.seq > seq }
    }
}
