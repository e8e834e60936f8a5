import DropProtocol
import Foundation
import GRDB
import SealEnvelope
import SealPKI

/// An accepted image, ready to be recorded.
public struct ImageRecord: Sendable, Equatable {
    public let name: String
    public let owner: String
    public let mediaType: String
    public let width: Int
    public let height: Int
    public let size: Int
    /// SHA-256 (hex) of the stored envelope: its blob name.
    public let blob: String
    public let envelopeID: [UInt8]
    public let createdAt: Date
    public let ingestedAt: Date
    /// The claim it came from: a leftover of a crash is recognised by it.
    public let inboxName: String
    /// The fingerprint of the key that signed it: envelope ids are unique per sender key.
    public let senderKey: String

    public init(name: String, owner: String, mediaType: String, width: Int, height: Int, size: Int, blob: String,
                envelopeID: [UInt8], createdAt: Date, ingestedAt: Date, inboxName: String, senderKey: String) {
        self.name = name
        self.owner = owner
        self.mediaType = mediaType
        self.width = width
        self.height = height
        self.size = size
        self.blob = blob
        self.envelopeID = envelopeID
        self.createdAt = createdAt
        self.ingestedAt = ingestedAt
        self.inboxName = inboxName
        self.senderKey = senderKey
    }

    init(row: Row) {
        self.init(
            name: row["name"], owner: row["owner"], mediaType: row["media_type"], width: row["width"], height: row["height"],
            size: row["size"], blob: row["blob"], envelopeID: [UInt8](row["envelope_id"] as Data),
            createdAt: Date(timeIntervalSince1970: row["created_at"]), ingestedAt: Date(timeIntervalSince1970: row["ingested_at"]),
            inboxName: row["inbox_name"] ?? "", senderKey: row["sender_key"] ?? "")
    }
}

extension Catalogue {
    /// Why an image in a batch was not recorded.
    public enum Refusal: Error, Equatable, Sendable {
        /// Its envelope id was seen before.
        case replay
        /// Another owner already has an image by that name.
        case nameOwnedBy(String)
    }

    /// Records a batch of accepted images in one transaction: for each, its envelope id, the
    /// image row and a notification. An image whose id was seen (even earlier in the same
    /// batch) or whose name belongs to another owner is left out and returned as refused;
    /// the rest commit together or not at all. `beforeCommit` runs last inside the
    /// transaction, told the log's position once it commits (nil when it adds no line): what
    /// must be durable before the rows that name it (the blobs) is made so there, and whatever
    /// it throws rolls it all back.
    public func record(_ images: [ImageRecord], beforeCommit: (LogHead.Position?) throws -> Void = { _ in }) throws -> [Int: Refusal] {
        try writer.write { db in
            // Prepared once per connection: a batch runs these for every image.
            func execute(_ sql: String, _ arguments: StatementArguments) throws {
                try db.cachedStatement(sql: sql).execute(arguments: arguments)
            }
            func text(_ sql: String, _ arguments: StatementArguments) throws -> String? {
                try String.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
            }
            var refused: [Int: Refusal] = [:]
            for (index, image) in images.enumerated() {
                if try text("SELECT sender FROM seen_envelopes WHERE sender_key = ? AND id = ?",
                            [image.senderKey, Data(image.envelopeID)]) != nil {
                    refused[index] = .replay
                    continue
                }
                let replaced = try Row.fetchOne(db.cachedStatement(sql: "SELECT owner, blob FROM images WHERE name = ?"),
                                                arguments: [image.name])
                if let replaced, replaced["owner"] != image.owner {
                    refused[index] = .nameOwnedBy(replaced["owner"])
                    continue
                }
                try execute("INSERT INTO seen_envelopes (sender_key, id, sender, seen_at, inbox_name) VALUES (?, ?, ?, ?, ?)",
                            [image.senderKey, Data(image.envelopeID), image.owner, image.ingestedAt.timeIntervalSince1970,
                             image.inboxName])
                try execute("""
                    INSERT OR REPLACE INTO images
                        (name, owner, media_type, width, height, size, blob, envelope_id, created_at, ingested_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """, [image.name, image.owner, image.mediaType, image.width, image.height, image.size, image.blob,
                          Data(image.envelopeID), image.createdAt.timeIntervalSince1970, image.ingestedAt.timeIntervalSince1970])
                // The superseded version's blob goes once this commits, unless another row holds it;
                // the new blob is nobody's garbage (the same image posted again).
                try execute("DELETE FROM blob_garbage WHERE blob = ?", [image.blob])
                if let old: String = replaced?["blob"], old != image.blob,
                   try text("SELECT name FROM images WHERE blob = ?", [old]) == nil {
                    try execute("INSERT OR IGNORE INTO blob_garbage (blob, since) VALUES (?, ?)",
                                [old, image.ingestedAt.timeIntervalSince1970])
                }
                // The next line of the chain, encoded exactly as the log will hold it.
                let last = try Self.position(db)
                let record = NotificationRecord(
                    seq: last.seq + 1, time: Date(timeIntervalSince1970: image.ingestedAt.timeIntervalSince1970), type: "image",
                    name: image.name, owner: image.owner, mediaType: image.mediaType, size: image.size, prev: last.hash)
                try execute("""
                    INSERT INTO notifications (seq, time, type, name, owner, media_type, size, prev, line_hash)
                    VALUES (?, ?, 'image', ?, ?, ?, ?, ?, ?)
                    """, [record.seq, image.ingestedAt.timeIntervalSince1970, image.name, image.owner, image.mediaType,
                          image.size, record.prev, LogHead.hash(ofLine: record.line)])
            }
            try beforeCommit(refused.count < images.count ? try Self.position(db) : nil)
            return refused
        }
    }

    /// Records an envelope id that is not an image (a fetch request) with its claim; false
    /// when the sender key used the id before.
    public func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date = Date()) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO seen_envelopes (sender_key, id, sender, seen_at, inbox_name) VALUES (?, ?, ?, ?, ?)
                """, arguments: [senderKey, Data(id), sender, time.timeIntervalSince1970, inboxName])
            return db.changesCount == 1
        }
    }

    /// Whether any envelope was committed from the claim `id` (a work/ ID). Not indexed: it
    /// is asked only of claims a killed process left being examined.
    public func hasEnvelopes(fromClaim id: String) throws -> Bool {
        try writer.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM seen_envelopes WHERE inbox_name = ? LIMIT 1", arguments: [id]) ?? false }
    }

    /// The claim an envelope id of `senderKey` was first seen in, or nil when it is new.
    public func seenInboxName(_ id: [UInt8], senderKey: String) throws -> String? {
        try writer.read { db in
            try String.fetchOne(db.cachedStatement(sql: "SELECT inbox_name FROM seen_envelopes WHERE sender_key = ? AND id = ?"),
                                arguments: [senderKey, Data(id)])
        }
    }

    public func image(named name: String) throws -> ImageRecord? {
        try writer.read { db in
            try Row.fetchOne(db.cachedStatement(sql: Self.imageQuery + " WHERE images.name = ?"), arguments: [name]).map(ImageRecord.init)
        }
    }

    public func images() throws -> [ImageRecord] {
        try writer.read { db in try Row.fetchAll(db, sql: Self.imageQuery + " ORDER BY images.name").map(ImageRecord.init) }
    }

    /// Blobs of superseded versions still to be removed from disk.
    public func blobGarbage() throws -> [String] {
        try writer.read { db in try String.fetchAll(db, sql: "SELECT blob FROM blob_garbage ORDER BY blob") }
    }

    /// Removes each superseded blob that no row holds through `remove` (which must accept
    /// one already gone), then forgets it: a crash between the two repeats the removal.
    /// Returns the blobs removed.
    @discardableResult
    public func collectBlobGarbage(_ remove: (String) throws -> Void) throws -> [String] {
        var removed: [String] = []
        for blob in try blobGarbage() {
            if try !isBlobReferenced(blob) {
                try remove(blob)
                removed.append(blob)
            }
            try writer.write { db in try db.execute(sql: "DELETE FROM blob_garbage WHERE blob = ?", arguments: [blob]) }
        }
        return removed
    }

    public func isBlobReferenced(_ hash: String) throws -> Bool {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT 1 FROM images WHERE blob = ?", arguments: [hash]) != nil }
    }

    static let imageQuery = """
        SELECT images.*, seen_envelopes.inbox_name, seen_envelopes.sender_key FROM images
        LEFT JOIN seen_envelopes ON seen_envelopes.id = images.envelope_id AND seen_envelopes.sender = images.owner
        """

    /// The last notification's seq and line hash (`LogHead.Position.start` when none).
    public func notificationPosition() throws -> LogHead.Position {
        try writer.read { db in try Self.position(db) }
    }

    /// The line hash of notification `seq`, if there is one.
    func lineHash(seq: Int) throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT line_hash FROM notifications WHERE seq = ?", arguments: [seq]) }
    }

    static func position(_ db: Database) throws -> LogHead.Position {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, line_hash FROM notifications ORDER BY seq DESC LIMIT 1")) else {
            return .start
        }
        return LogHead.Position(seq: row["seq"], hash: row["line_hash"])
    }

    public func notifications(after seq: Int) throws -> [NotificationRecord] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM notifications WHERE seq > ? ORDER BY seq", arguments: [seq])
                .map(NotificationRecord.init)
        }
    }

    /// Counts for `server status`.
    public struct Counts: Sendable {
        public let users: Int
        public let revoked: Int
        public let images: Int
        public let notifications: Int
        public let lastIngest: Date?
    }

    public func counts() throws -> Counts {
        try writer.read { db in
            Counts(
                users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0,
                revoked: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users WHERE revoked_at IS NOT NULL") ?? 0,
                images: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM images") ?? 0,
                notifications: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notifications") ?? 0,
                lastIngest: try Double.fetchOne(db, sql: "SELECT MAX(ingested_at) FROM images").map(Date.init(timeIntervalSince1970:)))
        }
    }
}

extension NotificationRecord {
    /// A row of the `notifications` table.
    init(row: Row) {
        self.init(seq: row["seq"], time: Date(timeIntervalSince1970: row["time"]), type: row["type"], name: row["name"],
                  owner: row["owner"], mediaType: row["media_type"], size: row["size"], prev: row["prev"])
    }
}
