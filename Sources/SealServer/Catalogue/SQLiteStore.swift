import DropProtocol
import Foundation
import GRDB
import SealEnvelope
import SealPKI

/// The catalogue in SQLite (GRDB), the default store: one file in the server root, nothing to
/// run. On disk it is a WAL database with `synchronous=FULL`: a committed transaction survives
/// a crash or power loss. Durability costs an fsync per commit, so ingestion commits many
/// envelopes per transaction. One writer at a time: the server's ingest lock sees to that.
public final class SQLiteStore: CatalogueStore {
    let writer: any DatabaseWriter
    public let location: String

    /// The on-disk catalogue at `path`, created and migrated as needed.
    public init(path: String) throws {
        // Created 0600 whatever the umask: SQLite gives its -wal and -shm files the same mode.
        try FileSink.createPrivateDatabase(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        let pool = try DatabasePool(path: path, configuration: configuration)
        // Every commit reaches the disk before it returns: the server then removes the drop
        // and tells the sender. The pool sets NORMAL when it turns WAL on (after any
        // prepareDatabase), under which a power cut may undo the last commits; set FULL here.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        writer = pool
        location = path
        try Self.migrator.migrate(writer)
    }

    /// An in-memory catalogue (tests).
    public init() throws {
        writer = try DatabaseQueue()
        location = ":memory:"
        try Self.migrator.migrate(writer)
    }

    /// Named, append-only migrations: never edit one that has shipped; add the next.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-users") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    name TEXT PRIMARY KEY NOT NULL,
                    certificate BLOB NOT NULL,
                    certificate_fingerprint TEXT NOT NULL UNIQUE,
                    registered_at REAL NOT NULL,
                    revoked_at REAL
                )
                """)
        }
        migrator.registerMigration("v1-images") { db in
            try db.execute(sql: """
                CREATE TABLE images (
                    name TEXT PRIMARY KEY NOT NULL,
                    owner TEXT NOT NULL REFERENCES users(name),
                    media_type TEXT NOT NULL,
                    width INTEGER NOT NULL,
                    height INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    blob TEXT NOT NULL,
                    envelope_id BLOB NOT NULL,
                    created_at REAL NOT NULL,
                    ingested_at REAL NOT NULL
                )
                """)
            try db.execute(sql: "CREATE INDEX images_blob ON images(blob)")
        }
        migrator.registerMigration("v1-seen-envelopes") { db in
            try db.execute(sql: """
                CREATE TABLE seen_envelopes (
                    id BLOB PRIMARY KEY NOT NULL,
                    sender TEXT NOT NULL,
                    seen_at REAL NOT NULL,
                    inbox_name TEXT NOT NULL
                )
                """)
        }
        migrator.registerMigration("v1-notifications") { db in
            // seq is assigned as max + 1 inside the committing transaction and rows are never
            // deleted, so sequence numbers have no gaps and never repeat.
            try db.execute(sql: """
                CREATE TABLE notifications (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    time REAL NOT NULL,
                    type TEXT NOT NULL,
                    name TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    media_type TEXT NOT NULL,
                    size INTEGER NOT NULL
                )
                """)
        }
        migrator.registerMigration("v2-seen-by-sender-key") { db in
            // Envelope ids are unique per sender key, not globally: one user copying another's
            // pending id must not make the victim's post a "replay".
            try db.execute(sql: """
                CREATE TABLE seen_envelopes_v2 (
                    sender_key TEXT NOT NULL,
                    id BLOB NOT NULL,
                    sender TEXT NOT NULL,
                    seen_at REAL NOT NULL,
                    inbox_name TEXT NOT NULL,
                    PRIMARY KEY (sender_key, id)
                )
                """)
            for row in try Row.fetchAll(db, sql: """
                SELECT seen_envelopes.*, users.certificate FROM seen_envelopes JOIN users ON users.name = seen_envelopes.sender
                """) {
                let key = try Catalogue.keyFingerprint(ofCertificate: [UInt8](row["certificate"] as Data))
                try db.execute(sql: "INSERT OR IGNORE INTO seen_envelopes_v2 VALUES (?, ?, ?, ?, ?)",
                               arguments: [key, row["id"] as Data, row["sender"] as String, row["seen_at"] as Double, row["inbox_name"] as String])
            }
            try db.execute(sql: "DROP TABLE seen_envelopes")
            try db.execute(sql: "ALTER TABLE seen_envelopes_v2 RENAME TO seen_envelopes")
            // Image rows find their envelope by id alone: without this, every image lookup
            // scanned the whole table.
            try db.execute(sql: "CREATE INDEX seen_envelopes_id ON seen_envelopes(id)")
        }
        migrator.registerMigration("v2-revoked-keys") { db in
            // Revocation follows the key, so a revoked key cannot come back under a new name.
            try db.execute(sql: """
                CREATE TABLE revoked_keys (
                    key_fingerprint TEXT PRIMARY KEY NOT NULL,
                    user TEXT NOT NULL,
                    revoked_at REAL NOT NULL
                )
                """)
            for row in try Row.fetchAll(db, sql: "SELECT name, certificate, revoked_at FROM users WHERE revoked_at IS NOT NULL") {
                let key = try Catalogue.keyFingerprint(ofCertificate: [UInt8](row["certificate"] as Data))
                try db.execute(sql: "INSERT OR IGNORE INTO revoked_keys VALUES (?, ?, ?)",
                               arguments: [key, row["name"] as String, row["revoked_at"] as Double])
            }
        }
        migrator.registerMigration("v3-notification-chain") { db in
            // Each notification line carries the hash of the line before it; the catalogue
            // keeps both so the log can be checked and rebuilt byte for byte (LogHead).
            try db.execute(sql: "ALTER TABLE notifications ADD COLUMN prev TEXT NOT NULL DEFAULT ''")
            try db.execute(sql: "ALTER TABLE notifications ADD COLUMN line_hash TEXT NOT NULL DEFAULT ''")
            var prev = LogHead.Position.start.hash
            for row in try Row.fetchAll(db, sql: "SELECT * FROM notifications ORDER BY seq") {
                try db.execute(sql: "UPDATE notifications SET prev = ? WHERE seq = ?", arguments: [prev, row["seq"] as Int])
                let record = try NotificationRecord(row: Row.fetchOne(db, sql: "SELECT * FROM notifications WHERE seq = ?",
                                                                      arguments: [row["seq"] as Int])!)
                prev = LogHead.hash(ofLine: record.line)
                try db.execute(sql: "UPDATE notifications SET line_hash = ? WHERE seq = ?", arguments: [prev, record.seq])
            }
        }
        migrator.registerMigration("v4-blob-garbage") { db in
            // Blobs of superseded versions, recorded in the transaction that replaces them and
            // removed from disk after it commits: a crash in between leaves a known leftover
            // that the next ingest removes, never an unexplained orphan.
            try db.execute(sql: "CREATE TABLE blob_garbage (blob TEXT PRIMARY KEY NOT NULL, since REAL NOT NULL)")
        }
        migrator.registerMigration("v5-authority") { db in
            // The CA whose server the catalogue belongs to: one row, written once.
            try db.execute(sql: "CREATE TABLE authority (fingerprint TEXT PRIMARY KEY NOT NULL, bound_at REAL NOT NULL)")
        }
        return migrator
    }

    public func authority() throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT fingerprint FROM authority") }
    }

    public func bind(authority fingerprint: String) throws -> String {
        try writer.write { db in
            if let bound = try String.fetchOne(db, sql: "SELECT fingerprint FROM authority") { return bound }
            try db.execute(sql: "INSERT INTO authority (fingerprint, bound_at) VALUES (?, ?)",
                           arguments: [fingerprint, Date().timeIntervalSince1970])
            return fingerprint
        }
    }

    // MARK: Users

    public func addUser(name: String, certificate: [UInt8], fingerprint: String, keyFingerprint key: String, at time: Date) throws {
        try writer.write { db in
            if let owner = try String.fetchOne(db, sql: "SELECT user FROM revoked_keys WHERE key_fingerprint = ?", arguments: [key]) {
                throw Catalogue.Failure.keyRevoked(owner)
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [name]) == nil else {
                throw Catalogue.Failure.nameTaken(name)
            }
            try db.execute(
                sql: "INSERT INTO users (name, certificate, certificate_fingerprint, registered_at) VALUES (?, ?, ?, ?)",
                arguments: [name, Data(certificate), fingerprint, time.timeIntervalSince1970])
        }
    }

    public func user(named name: String) throws -> UserRecord? {
        try writer.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE name = ?"), arguments: [name]).map(UserRecord.init)
        }
    }

    public func users() throws -> [UserRecord] {
        try writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM users ORDER BY name").map(UserRecord.init) }
    }

    public func revoke(name: String, at time: Date) throws -> Date? {
        try writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT certificate, revoked_at FROM users WHERE name = ?", arguments: [name]) else {
                throw Catalogue.Failure.noSuchUser(name)
            }
            if let earlier = row["revoked_at"] as Double? { return Date(timeIntervalSince1970: earlier) }
            let key = try Catalogue.keyFingerprint(ofCertificate: [UInt8](row["certificate"] as Data))
            try db.execute(sql: "UPDATE users SET revoked_at = ? WHERE name = ?",
                           arguments: [time.timeIntervalSince1970, name])
            try db.execute(sql: "INSERT OR IGNORE INTO revoked_keys VALUES (?, ?, ?)", arguments: [key, name, time.timeIntervalSince1970])
            return nil
        }
    }

    public func replaceCertificate(name: String, certificate: [UInt8], fingerprint: String) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE users SET certificate = ?, certificate_fingerprint = ? WHERE name = ? AND revoked_at IS NULL",
                           arguments: [Data(certificate), fingerprint, name])
            guard db.changesCount > 0 else { throw Catalogue.Failure.noSuchUser(name) }
        }
    }

    public func revokedKeyOwner(_ key: String) throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT user FROM revoked_keys WHERE key_fingerprint = ?", arguments: [key]) }
    }

    // MARK: Images and envelope ids

    public func record(_ images: [ImageRecord], blobs _: BlobStore?, beforeCommit: (LogHead.Position?) throws -> Void) throws -> [Int: Catalogue.Refusal] {
        try writer.write { db in
            // Prepared once per connection: a batch runs these for every image.
            func execute(_ sql: String, _ arguments: StatementArguments) throws {
                try db.cachedStatement(sql: sql).execute(arguments: arguments)
            }
            func text(_ sql: String, _ arguments: StatementArguments) throws -> String? {
                try String.fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
            }
            var refused: [Int: Catalogue.Refusal] = [:]
            var last = try Self.position(db)
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
                let (record, position) = Catalogue.notification(for: image, after: last)
                try execute("""
                    INSERT INTO notifications (seq, time, type, name, owner, media_type, size, prev, line_hash)
                    VALUES (?, ?, 'image', ?, ?, ?, ?, ?, ?)
                    """, [record.seq, image.ingestedAt.timeIntervalSince1970, image.name, image.owner, image.mediaType,
                          image.size, record.prev, position.hash])
                last = position
            }
            try beforeCommit(refused.count < images.count ? last : nil)
            return refused
        }
    }

    public func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date) throws -> Bool {
        try writer.write { db in
            try db.execute(sql: """
                INSERT OR IGNORE INTO seen_envelopes (sender_key, id, sender, seen_at, inbox_name) VALUES (?, ?, ?, ?, ?)
                """, arguments: [senderKey, Data(id), sender, time.timeIntervalSince1970, inboxName])
            return db.changesCount == 1
        }
    }

    /// Not indexed: asked only of claims a killed process left being examined.
    public func hasEnvelopes(fromClaim id: String) throws -> Bool {
        try writer.read { db in try Bool.fetchOne(db, sql: "SELECT 1 FROM seen_envelopes WHERE inbox_name = ? LIMIT 1", arguments: [id]) ?? false }
    }

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

    public func blobGarbage() throws -> [String] {
        try writer.read { db in try String.fetchAll(db, sql: "SELECT blob FROM blob_garbage ORDER BY blob") }
    }

    public func forgetBlob(_ blob: String) throws {
        try writer.write { db in try db.execute(sql: "DELETE FROM blob_garbage WHERE blob = ?", arguments: [blob]) }
    }

    /// One node writes the file: nobody else's commits to hear of, and no node to list
    /// (`server status` reports the root itself).
    public func changes() -> CatalogueChanges? { nil }
    public func report(_ node: NodeReport) throws {}
    public func nodes() throws -> [NodeReport] { [] }

    /// One node; blobs live only in the root's blob directory.
    public var isShared: Bool { false }
    public func readBlob(_ hash: String, _ body: ([UInt8]) throws -> Void) throws -> Bool { false }
    public func storedBlobs() throws -> [String] { [] }

    public func isBlobReferenced(_ hash: String) throws -> Bool {
        try writer.read { db in try Row.fetchOne(db, sql: "SELECT 1 FROM images WHERE blob = ?", arguments: [hash]) != nil }
    }

    static let imageQuery = """
        SELECT images.*, seen_envelopes.inbox_name, seen_envelopes.sender_key FROM images
        LEFT JOIN seen_envelopes ON seen_envelopes.id = images.envelope_id AND seen_envelopes.sender = images.owner
        """

    public func notificationPosition() throws -> LogHead.Position {
        try writer.read { db in try Self.position(db) }
    }

    public func lineHash(seq: Int) throws -> String? {
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

    public func counts() throws -> Catalogue.Counts {
        try writer.read { db in
            Catalogue.Counts(
                users: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0,
                revoked: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users WHERE revoked_at IS NOT NULL") ?? 0,
                images: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM images") ?? 0,
                notifications: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM notifications") ?? 0,
                lastIngest: try Double.fetchOne(db, sql: "SELECT MAX(ingested_at) FROM images").map(Date.init(timeIntervalSince1970:)))
        }
    }
}

extension UserRecord {
    init(row: Row) {
        self.init(name: row["name"], certificate: [UInt8](row["certificate"] as Data), certificateFingerprint: row["certificate_fingerprint"],
                  registeredAt: Date(timeIntervalSince1970: row["registered_at"]),
                  revokedAt: (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:)))
    }
}

extension ImageRecord {
    init(row: Row) {
        self.init(
            name: row["name"], owner: row["owner"], mediaType: row["media_type"], width: row["width"], height: row["height"],
            size: row["size"], blob: row["blob"], envelopeID: [UInt8](row["envelope_id"] as Data),
            createdAt: Date(timeIntervalSince1970: row["created_at"]), ingestedAt: Date(timeIntervalSince1970: row["ingested_at"]),
            inboxName: row["inbox_name"] ?? "", senderKey: row["sender_key"] ?? "")
    }
}

extension NotificationRecord {
    /// A row of the `notifications` table.
    init(row: Row) {
        self.init(seq: row["seq"], time: Date(timeIntervalSince1970: row["time"]), type: row["type"], name: row["name"],
                  owner: row["owner"], mediaType: row["media_type"], size: row["size"], prev: row["prev"])
    }
}
