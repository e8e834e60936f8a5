import DropProtocol
import Foundation
import SealEnvelope
import SealPKI

/// Writing `notifications.jsonl` and its signed head. The catalogue is the truth: it holds
/// every line's hash, `catchUp` appends whatever the log lacks and re-signs the head, so a
/// crash between commit and append only delays a line, never loses or repeats one; a log
/// whose end the server did not write is rebuilt from the catalogue byte for byte.
extension NotificationLog {
    /// Appends every notification the catalogue has beyond the log's last line (a torn last
    /// line, a crash mid-append, is cut off first), then signs the head with `signer` when it
    /// does not already name the log's last line. A last line that is not the
    /// catalogue's, byte for byte, makes it rebuild the log instead. Returns how many lines
    /// were appended.
    @discardableResult
    public func catchUp(from catalogue: Catalogue, signer: RSASigner?, presigned: HeadSigning? = nil) throws -> Int {
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
        try signHead(naming: missing.last.map(Self.position) ?? last, signer: signer, presigned: presigned)
        return missing.count
    }

    /// Writes the whole log anew from the catalogue, the truth, and puts it in place
    /// atomically: the repair for a log whose end the server did not write. The lines are
    /// the ones the server wrote before, so every head signed before still holds.
    @discardableResult
    public func rebuild(from catalogue: Catalogue, signer: RSASigner?) throws -> Int {
        let records = try catalogue.notifications(after: 0)
        try AtomicFile.write(records.flatMap { $0.line + [UInt8(ascii: "\n")] }, to: path, mode: 0o644, replace: true)
        try signHead(naming: records.last.map(Self.position) ?? .start, signer: signer)
        return records.count
    }

    /// Signs `position`, the log's last line as written, into `notifications.head` unless the
    /// head says it already; `presigned` is used when it signed that very position. Never the
    /// catalogue's position read afterwards: another node may have committed lines since,
    /// and a head must name no line the log does not hold yet.
    private func signHead(naming position: LogHead.Position, signer: RSASigner?, presigned: HeadSigning? = nil) throws {
        guard let signer else { return }
        if let head = try? LogHead.read(at: headPath), head.position == position,
           head.deliveryCertificate == Data(signer.certificate.der) {
            return
        }
        let head = if let presigned, presigned.position == position { try presigned.head() } else { try LogHead.make(position, signer: signer) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(head)), to: headPath, mode: 0o644, replace: true)
    }

    private static func position(_ record: NotificationRecord) -> LogHead.Position {
        LogHead.Position(seq: record.seq, hash: LogHead.hash(ofLine: record.line))
    }
}

/// A log head signed on another thread while the commit it names is made durable (the
/// blobs, the catalogue, the log's line): the RSA signature, 13-14 ms for RSA-3072, then adds
/// nothing to the time from a drop to its notification. The head is written only after the
/// line it names is durable, and only if the catalogue's position is the one signed.
public final class HeadSigning: Sendable {
    public let position: LogHead.Position
    private let signed: Pending<LogHead>

    public init(_ position: LogHead.Position, signer: RSASigner) {
        self.position = position
        signed = Pending { try LogHead.make(position, signer: signer) }
    }

    /// The signed head, once it is (waiting for it if need be).
    public func head() throws -> LogHead { try signed.value() }
}
