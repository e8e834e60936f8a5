import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// Rejected drops: each moved (never copied, never followed) to `quarantine/` beside a JSON
/// file saying what, why and when; the sender, when known, gets the reason in its outbox.
public struct Quarantine: Sendable {
    public let root: ServerRoot

    /// One rejection, as written to `quarantine/NAME.reason.json`.
    public struct Reason: Codable, Sendable {
        public let file: String
        public let reason: String
        public let time: String
        public let sender: String?
        public let envelopeID: String?

        enum CodingKeys: String, CodingKey {
            case file, reason, time, sender
            case envelopeID = "envelope_id"
        }
    }

    /// Moves `inboxName` out of the inbox into quarantine with `reason`. `senderReason`, when
    /// given, is what the sender is told (authentication failures all read the same).
    public func reject(
        _ inboxName: String, reason: String, sender: String? = nil, envelopeID: [UInt8]? = nil, senderReason: String? = nil
    ) throws {
        let now = Date()
        let stamp = Self.stamp(now)
        let target = "\(root.quarantine)/\(stamp)-\(inboxName)"
        let record = Reason(file: inboxName, reason: reason, time: NotificationLog.timeFormatter.string(from: now),
                            sender: sender, envelopeID: envelopeID?.hexString)
        // The reason first: a crash between the two steps leaves a reason without its file
        // (the file is still in the inbox and is examined again), never a file without reason.
        try AtomicFile.write(Self.json(record), to: target + ".reason.json", replace: true)
        guard rename("\(root.inboxNew)/\(inboxName)", target) == 0 else {
            throw IOFailure(call: "rename", path: "\(root.inboxNew)/\(inboxName)", code: errno)
        }
        try AtomicFile.syncDirectory(root.inboxNew)
        try AtomicFile.syncDirectory(root.quarantine)
        if let sender {
            let outbox = root.outbox(for: sender)
            try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: true)
            let told = Reason(file: inboxName, reason: senderReason ?? reason, time: record.time, sender: sender, envelopeID: record.envelopeID)
            try AtomicFile.write(Self.json(told), to: "\(outbox)/rejected-\(envelopeID?.hexString ?? stamp).json", replace: true)
        }
    }

    /// Reason files in quarantine, for status.
    public func count() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.quarantine)) ?? []).filter { $0.hasSuffix(".reason.json") }.count
    }

    static func stamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        return formatter.string(from: date)
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self) + "\n"
    }
}
