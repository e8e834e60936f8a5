import DropProtocol
import Foundation
import GRDB
import SealPKI

/// The server's SQLite catalogue (GRDB): users and certificates, images, the envelope ids
/// it has seen, and the notifications. The database is the truth; the notification log and
/// the blob directory follow it.
///
/// On disk it is a WAL database with `synchronous=FULL`: a committed transaction survives a
/// crash or power loss. Durability costs an fsync per commit, so ingestion commits many
/// envelopes per transaction.
public final class Catalogue: Sendable {
    let writer: any DatabaseWriter

    /// The on-disk catalogue at `path`, created and migrated as needed.
    public init(path: String) throws {
        // Created 0600 whatever the umask: SQLite gives its -wal and -shm files the same mode.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        if fd >= 0 {
            var info = stat()
            if fstat(fd, &info) == 0, info.st_size == 0 { fchmod(fd, 0o600) }
            close(fd)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        let pool = try DatabasePool(path: path, configuration: configuration)
        // Every commit reaches the disk before it returns: the server then removes the drop
        // and tells the sender. The pool sets NORMAL when it turns WAL on (after any
        // prepareDatabase), under which a power cut may undo the last commits; set FULL here.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        writer = pool
        try Self.migrator.migrate(writer)
    }

    /// An in-memory catalogue (tests).
    public init() throws {
        writer = try DatabaseQueue()
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
        return migrator
    }
}

// MARK: - Users

public struct UserRecord: Sendable, Equatable {
    public let name: String
    public let certificate: [UInt8]
    public let certificateFingerprint: String
    public let registeredAt: Date
    public let revokedAt: Date?

    init(row: Row) {
        name = row["name"]
        certificate = [UInt8](row["certificate"] as Data)
        certificateFingerprint = row["certificate_fingerprint"]
        registeredAt = Date(timeIntervalSince1970: row["registered_at"])
        revokedAt = (row["revoked_at"] as Double?).map(Date.init(timeIntervalSince1970:))
    }
}

extension Catalogue {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case nameTaken(String)
        case noSuchUser(String)
        case keyRevoked(String)

        public var description: String {
            switch self {
            case .nameTaken(let name): "the name \"\(name)\" is already registered"
            case .noSuchUser(let name): "no user named \"\(name)\""
            case .keyRevoked(let user): "this key was revoked (as \(user)'s); it cannot be registered again"
            }
        }
    }

    /// Records a new user; throws `nameTaken` when the name exists (revoked or not).
    public func addUser(name: String, certificate: [UInt8], fingerprint: String, at time: Date = Date()) throws {
        let key = try Self.keyFingerprint(ofCertificate: certificate)
        try writer.write { db in
            if let owner = try String.fetchOne(db, sql: "SELECT user FROM revoked_keys WHERE key_fingerprint = ?", arguments: [key]) {
                throw Failure.keyRevoked(owner)
            }
            guard try Row.fetchOne(db, sql: "SELECT 1 FROM users WHERE name = ?", arguments: [name]) == nil else {
                throw Failure.nameTaken(name)
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

    /// Marks a user revoked, and their key with them: their later drops are refused, the key
    /// can never be registered again under any name; their images stay listed. Returns when
    /// the user was revoked already, nil when it happens now.
    @discardableResult
    public func revoke(name: String, at time: Date = Date()) throws -> Date? {
        try writer.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT certificate, revoked_at FROM users WHERE name = ?", arguments: [name]) else {
                throw Failure.noSuchUser(name)
            }
            if let earlier = row["revoked_at"] as Double? { return Date(timeIntervalSince1970: earlier) }
            let key = try Catalogue.keyFingerprint(ofCertificate: [UInt8](row["certificate"] as Data))
            try db.execute(sql: "UPDATE users SET revoked_at = ? WHERE name = ?",
                           arguments: [time.timeIntervalSince1970, name])
            try db.execute(sql: "INSERT OR IGNORE INTO revoked_keys VALUES (?, ?, ?)", arguments: [key, name, time.timeIntervalSince1970])
            return nil
        }
    }

    /// Replaces an unrevoked user's certificate (a renewal for the same key).
    public func replaceCertificate(name: String, certificate: [UInt8], fingerprint: String) throws {
        try writer.write { db in
            try db.execute(sql: "UPDATE users SET certificate = ?, certificate_fingerprint = ? WHERE name = ? AND revoked_at IS NULL",
                           arguments: [Data(certificate), fingerprint, name])
            guard db.changesCount > 0 else { throw Failure.noSuchUser(name) }
        }
    }

    /// The fingerprint of a stored certificate's public key: what seen ids and revocations are kept under.
    static func keyFingerprint(ofCertificate der: [UInt8]) throws -> String {
        try Certificate(der: der).publicKey.fingerprint.description
    }

    /// The user a certificate presented by a sender stands for: the registered certificate
    /// itself, or (sealed before a renewal) one of our CA's for the registered user's key.
    /// Revoked users are returned too, for the caller to refuse in words.
    public func registeredUser(presenting certificate: Certificate, authority: Certificate) throws -> UserRecord? {
        guard let user = try user(named: certificate.subject.commonName ?? "") else { return nil }
        if user.certificate == certificate.der { return user }
        guard (try? Certificate(der: user.certificate))?.publicKey == certificate.publicKey,
              (try? certificate.verify(issuedBy: authority, role: .user)) != nil
        else { return nil }
        return user
    }

    /// The user whose revocation revoked `key` (a public key fingerprint), or nil.
    public func revokedKeyOwner(_ key: String) throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT user FROM revoked_keys WHERE key_fingerprint = ?", arguments: [key]) }
    }
}
