import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// Rejected drops: each moved (never copied, never followed) to `quarantine/ID`, a short
/// name the server makes, beside `quarantine/ID.reason.json` saying what (the inbox name,
/// escaped), why and when; the sender, when known, gets the reason in its outbox.
public struct Quarantine: Sendable {
    public let root: ServerRoot

    public init(root: ServerRoot) {
        self.root = root
    }

    /// One rejection, as written to `quarantine/ID.reason.json`.
    public struct Reason: Codable, Sendable {
        public let id: String?
        /// The inbox name, with control characters and bytes that are not UTF-8 escaped.
        public let file: String
        public let reason: String
        public let time: String
        public let sender: String?
        public let envelopeID: String?

        enum CodingKeys: String, CodingKey {
            case id, file, reason, time, sender
            case envelopeID = "envelope_id"
        }
    }

    /// Moves a claimed drop's copy into quarantine with `reason` (the caller then releases the
    /// claim). `senderReason`, when given, is what the sender is told (authentication failures
    /// all read the same). With `member`, only that envelope of a bundle drop is refused: its
    /// bytes are copied out of the bundle to `quarantine/ID-N` (N counted from 0), and the
    /// bundle's copy stays for its other envelopes.
    func reject(
        _ item: WorkQueue.Item, member: Int? = nil, from queue: WorkQueue, reason: String, sender: String? = nil,
        envelopeID: [UInt8]? = nil, senderReason: String? = nil
    ) throws {
        let id = item.quarantineID(member: member)
        let file = member.map { "\(item.file) (envelope \($0 + 1) of \(item.members?.count ?? 0) in this bundle)" } ?? item.file
        let record = Reason(id: id, file: file, reason: reason, time: LogTime.format(Date()),
                            sender: sender, envelopeID: envelopeID?.hexString)
        // The reason first: a crash between the two steps leaves a reason without its file
        // (the copy is still in work/ and is examined again), never a file without reason.
        try AtomicFile.write(Self.json(record), to: reasonPath(id), mode: 0o600, replace: true)
        let target = "\(root.quarantine)/\(id)"
        if let member, let part = item.members?[member] {
            var window = FileWindow(try FileSource(path: queue.dropPath(item.id), followSymlinks: false), range: part.range)
            do {
                // An unnamed file linked into place: a kill leaves nothing half written here.
                try FileSink.create(target, mode: 0o600, replace: false, durable: true) { try window.copy(to: &$0) }
            } catch let failure as IOFailure where failure.code == EEXIST {
                // Quarantined already, before a crash took the release: the same bytes.
            }
        } else {
            guard rename(queue.dropPath(item.id), target) == 0 else {
                throw IOFailure(call: "rename", path: queue.dropPath(item.id), code: errno)
            }
            try AtomicFile.syncDirectory(root.quarantine)
        }
        if let sender {
            let outbox = root.outbox(for: sender)
            try ServerRoot.makeDirectory(outbox, mode: ServerRoot.outboxMode)
            let told = Reason(id: id, file: file, reason: senderReason ?? reason, time: record.time, sender: sender,
                              envelopeID: record.envelopeID)
            try AtomicFile.write(Self.json(told), to: "\(outbox)/" + Outbox.refusal(id: envelopeID?.hexString ?? id), replace: true)
        }
    }

    /// Moves an inbox entry that is not fit to be read into quarantine, unread. Returns false
    /// when it cannot be moved (a directory another user owns): it stays in the inbox, the
    /// reason file says so, and the caller skips it from then on.
    func rejectUnread(_ name: RawName, in inbox: DropDirectory, reason: String) throws -> Bool {
        let id = WorkQueue.newID()
        let time = LogTime.format(Date())
        try AtomicFile.write(Self.json(Reason(id: id, file: name.display, reason: reason, time: time, sender: nil, envelopeID: nil)),
                             to: reasonPath(id), mode: 0o600, replace: true)
        if let code = inbox.move(name, to: "\(root.quarantine)/\(id)") {
            unlink(reasonPath(id))
            if code == ENOENT { return true }
            // One reason file per stuck entry, however often it is seen.
            let stuck = "stuck-" + name.hex.prefix(64)
            try AtomicFile.write(Self.json(Reason(
                id: stuck, file: name.display,
                reason: "\(reason); it cannot be moved (\(String(cString: strerror(code)))), so it is left in inbox/new and skipped: remove it by hand",
                time: time, sender: nil, envelopeID: nil)), to: reasonPath(stuck), mode: 0o600, replace: true)
            return false
        }
        try inbox.sync()
        try AtomicFile.syncDirectory(root.quarantine)
        return true
    }

    public enum RequeueFailure: Error, Equatable, CustomStringConvertible {
        case noSuchDrop(String)

        public var description: String { "no quarantined drop \"\(LogText.escaped(id))\" (the ids are the file names in quarantine/)" }
        var id: String { switch self { case .noSuchDrop(let id): id } }
    }

    /// Puts a quarantined drop back into the inbox, to be examined again from the start (for
    /// a drop set aside because the server was killed while examining it). Its reason file
    /// goes; the drop itself is moved, never copied.
    public func requeue(_ id: String) throws {
        guard id.utf8.count <= 64, id.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" }),
              !id.hasPrefix("stuck-"), FileManager.default.fileExists(atPath: reasonPath(id))
        else { throw RequeueFailure.noSuchDrop(id) }
        let lock = try IngestLock(path: root.lockPath)
        defer { withExtendedLifetime(lock) {} }
        guard rename("\(root.quarantine)/\(id)", "\(root.inboxNew)/\(id)") == 0 else {
            throw errno == ENOENT ? RequeueFailure.noSuchDrop(id) : IOFailure(call: "rename", path: "\(root.quarantine)/\(id)", code: errno)
        }
        unlink(reasonPath(id))
        try AtomicFile.syncDirectory(root.inboxNew)
        try AtomicFile.syncDirectory(root.quarantine)
    }

    /// Removes an inbox entry unread, leaving only its reason file: for drops whose bytes
    /// are the problem (over a per-user limit), which quarantine must not keep either.
    func refuseUnread(_ name: RawName, in inbox: DropDirectory, reason: String) throws {
        let id = WorkQueue.newID()
        try AtomicFile.write(Self.json(Reason(id: id, file: name.display, reason: reason,
                                              time: LogTime.format(Date()), sender: nil, envelopeID: nil)),
                             to: reasonPath(id), mode: 0o600, replace: true)
        inbox.remove(name)
        try inbox.sync()
    }

    func reasonPath(_ id: String) -> String { "\(root.quarantine)/\(id).reason.json" }

    /// Removes what a kill left half-written in quarantine/ (a reason file's temporary).
    /// Called with the ingest lock held, so no writer is mid-rename.
    func removeTemporaries() {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: root.quarantine)) ?? [] where AtomicFile.isTemporary(file) {
            unlink("\(root.quarantine)/\(file)")
        }
    }

    /// Reason files in quarantine, for status.
    public func count() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.quarantine)) ?? []).filter { $0.hasSuffix(".reason.json") }.count
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
