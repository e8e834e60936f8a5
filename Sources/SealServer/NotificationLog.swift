import Foundation
import SealEnvelope
import SealPKI

/// `notifications.jsonl`: one JSON object per accepted image, appended after its
/// transaction commits. The catalogue is the truth: `catchUp` appends whatever the log
/// lacks, so a crash between commit and append only delays a line, never loses or repeats one.
public struct NotificationLog: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
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

    /// Appends every notification the catalogue has beyond the log's last line; a torn last
    /// line (a crash mid-append) is cut off first. Returns how many lines were appended.
    @discardableResult
    public func catchUp(from catalogue: Catalogue) throws -> Int {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        defer { close(fd) }
        let lastSeq: Int, validLength: off_t
        do {
            (lastSeq, validLength) = try Self.tail(fd: fd, path: path)
        } catch let failure as IOFailure where failure.code == EINVAL {
            return try rebuild(from: catalogue)
        }
        let missing = try catalogue.notifications(after: lastSeq)
        // A last line the catalogue never committed was not written by the server.
        if lastSeq > 0, try catalogue.notifications(after: lastSeq - 1).first?.seq != lastSeq {
            return try rebuild(from: catalogue)
        }
        guard !missing.isEmpty || lseek(fd, 0, SEEK_END) != validLength else { return 0 }
        guard ftruncate(fd, validLength) == 0 else { throw IOFailure(call: "ftruncate", path: path, code: errno) }
        var text = ""
        for record in missing {
            text += String(decoding: try Self.encoder.encode(record), as: UTF8.self) + "\n"
        }
        lseek(fd, validLength, SEEK_SET)
        try AtomicFile.writeAll(Array(text.utf8), to: fd, path: path)
        guard fsync(fd) == 0 else { throw IOFailure(call: "fsync", path: path, code: errno) }
        return missing.count
    }

    /// Writes the whole log anew from the catalogue, the truth, and puts it in place
    /// atomically: the repair for a log whose end the server did not write.
    @discardableResult
    public func rebuild(from catalogue: Catalogue) throws -> Int {
        let records = try catalogue.notifications(after: 0)
        var text = ""
        for record in records {
            text += String(decoding: try Self.encoder.encode(record), as: UTF8.self) + "\n"
        }
        try AtomicFile.write(text, to: path, mode: 0o644, replace: true)
        return records.count
    }

    /// The seq of the last complete line and the length of the file up to its end.
    static func tail(fd: Int32, path: String) throws -> (Int, off_t) {
        let size = lseek(fd, 0, SEEK_END)
        guard size > 0 else { return (0, 0) }
        // Read back far enough to hold the last complete line.
        var window = off_t(4096)
        while true {
            let start = max(0, size - window)
            var buffer = [UInt8](repeating: 0, count: Int(size - start))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, start) }
            guard n == buffer.count else { throw IOFailure(call: "pread", path: path, code: errno) }
            guard let lastNewline = buffer.lastIndex(of: UInt8(ascii: "\n")) else {
                if start == 0 { return (0, 0) }
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
            return (record.seq, validLength)
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

    /// Every complete record in the log after `seq`, in order (what clients read). Each line
    /// must decode as the server writes it, with seq counting up from 1 by one; anything else
    /// is `Corrupt`, never skipped. A last line without its newline is a write in progress and
    /// is left for later.
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
        lines.removeLast()  // after the last newline: empty, or a torn line
        var records: [NotificationRecord] = []
        for (index, line) in lines.enumerated() {
            let record: NotificationRecord
            do {
                record = try decoder.decode(NotificationRecord.self, from: Data(line))
            } catch DecodingError.dataCorrupted(let context) {
                throw Corrupt(path: path, line: index + 1, reason: context.debugDescription)
            } catch {
                throw Corrupt(path: path, line: index + 1, reason: "not a JSON notification record")
            }
            guard record.seq == index + 1 else {
                throw Corrupt(path: path, line: index + 1, reason: "seq \(record.seq) out of order")
            }
            if record.seq > seq { records.append(record) }
        }
        return records
    }
}
