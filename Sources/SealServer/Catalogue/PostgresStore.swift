import DropProtocol
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SealEnvelope

/// The catalogue in PostgreSQL (postgres-nio), for several server nodes sharing one state.
/// Every transaction that decides something for all nodes (a batch of images and their
/// notifications, a registration, a revocation) first takes one transaction-scoped advisory
/// lock, so such transactions run one at a time across every node: `seq` is the last one
/// plus one, with no gap and no repeat, and a name or an envelope id is decided once. Reads
/// take no lock.
///
/// The server's code is synchronous, on its own threads: each call here waits on its thread
/// for its queries, run by the connection's event loop, on a connection of this store's own
/// (made when none is idle, kept for the next call). Never call it from an event loop.
public final class PostgresStore: CatalogueStore {
    public let configuration: PostgresConnection.Configuration
    /// What `url` named, without the password (for messages and `server status`).
    public let location: String
    private let idle = Locked<[PostgresConnection]>([])
    private let open = Locked(0)
    private let logger = Logger(label: "sealdrop.catalogue.postgres")
    /// The advisory lock every deciding transaction takes (any fixed number: "sealdrop").
    static let decisionLock: Int64 = 0x7365_616c_6472_6f70

    public enum Failure: Error, CustomStringConvertible {
        case badURL(String)
        case unreachable(String, underlying: String)
        case query(String)

        public var description: String {
            switch self {
            case .badURL(let reason): "not a PostgreSQL URL: \(reason) (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
            case .unreachable(let location, let underlying): "cannot reach the catalogue database \(location): \(underlying)"
            case .query(let message): "the catalogue database refused a query: \(message)"
            }
        }
    }

    /// Connects to the database `url` names (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`,
    /// `?sslmode=disable` or `require`; plain TCP on loopback by default) and brings its
    /// schema up to date.
    public init(url: String) throws {
        (configuration, location) = try Self.configuration(url)
        try migrate()
    }

    static func configuration(_ url: String) throws -> (PostgresConnection.Configuration, String) {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? "") else {
            throw Failure.badURL("it must start with postgres://")
        }
        guard let host = parts.host, !host.isEmpty else { throw Failure.badURL("no host") }
        guard let user = parts.user, !user.isEmpty else { throw Failure.badURL("no user") }
        let database = String(parts.path.drop { $0 == "/" })
        guard !database.isEmpty else { throw Failure.badURL("no database") }
        let mode = parts.queryItems?.first { $0.name == "sslmode" }?.value ?? (["127.0.0.1", "::1", "localhost"].contains(host) ? "disable" : "require")
        let tls: PostgresConnection.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "require": tls = .require(try .init(configuration: .makeClientConfiguration()))
        default: throw Failure.badURL("sslmode must be disable or require")
        }
        let configuration = PostgresConnection.Configuration(
            host: host, port: parts.port ?? 5432, username: user, password: parts.password, database: database, tls: tls)
        return (configuration, "postgres://\(user)@\(host):\(parts.port ?? 5432)/\(database)")
    }

    deinit {
        for connection in idle.withLock({ $0 }) { try? connection.close().wait() }
    }

    // MARK: Connections

    /// Runs `body` with a connection of this store's, outside any transaction (reads, and
    /// writes that decide nothing across nodes).
    func read<T>(_ body: (_ run: Run) throws -> T) throws -> T {
        let connection = try lease()
        do {
            let value = try body(Run(connection: connection, logger: logger))
            idle.withLock { $0.append(connection) }
            return value
        } catch {
            // A connection that failed mid-query may be in any state: it is not reused.
            retire(connection)
            throw Self.described(error)
        }
    }

    /// Runs `body` inside one transaction that first takes the decision lock: BEGIN, the lock,
    /// `body` (its queries through `run`, its other work on the caller's thread), COMMIT; any
    /// error rolls back.
    func decide<T>(_ body: (_ run: Run) throws -> T) throws -> T {
        let connection = try lease()
        let run = Run(connection: connection, logger: logger)
        do {
            try run("BEGIN")
            try run("SELECT pg_advisory_xact_lock(\(Self.decisionLock))")
            let value = try body(run)
            try run("COMMIT")
            idle.withLock { $0.append(connection) }
            return value
        } catch {
            if (try? run("ROLLBACK")) != nil {
                idle.withLock { $0.append(connection) }
            } else {
                retire(connection)
            }
            throw Self.described(error)
        }
    }

    /// One query on a leased connection, waited for on this thread (the connection's event
    /// loop does the work); the rows it returned.
    struct Run {
        let connection: PostgresConnection
        let logger: Logger

        @discardableResult
        func callAsFunction(_ query: PostgresQuery) throws -> [PostgresRow] {
            try connection.query(query, logger: logger).wait().rows
        }
    }

    private func lease() throws -> PostgresConnection {
        if let connection = idle.withLock({ $0.popLast() }) { return connection }
        open.withLock { $0 += 1 }
        do {
            return try connect()
        } catch {
            open.withLock { $0 -= 1 }
            throw error
        }
    }

    /// A new connection, not one of the store's.
    func connect() throws -> PostgresConnection {
        do {
            return try PostgresConnection.connect(on: PostgresConnection.defaultEventLoopGroup.any(), configuration: configuration,
                                                  id: Int.random(in: 1...Int.max), logger: logger).wait()
        } catch {
            throw Failure.unreachable(location, underlying: "\(Self.described(error))")
        }
    }

    // MARK: Changes

    /// Every commit that adds notifications tells the nodes listening here (at its commit).
    static let changesChannel = "sealdrop_log"

    public func changes() -> CatalogueChanges? { CatalogueChanges(store: self, logger: logger) }

    // MARK: Nodes

    public func report(_ node: NodeReport) throws {
        try read { run in
            try run("""
                INSERT INTO nodes (name, seen_at, inbox_backlog, quarantined, log_seq)
                VALUES (\(node.name), \(node.seenAt.timeIntervalSince1970), \(node.inboxBacklog), \(node.quarantined), \(node.logSeq))
                ON CONFLICT (name) DO UPDATE SET seen_at = EXCLUDED.seen_at, inbox_backlog = EXCLUDED.inbox_backlog,
                    quarantined = EXCLUDED.quarantined, log_seq = EXCLUDED.log_seq
                """)
        }
    }

    public func nodes() throws -> [NodeReport] {
        try read { run in
            try run("SELECT name, seen_at, inbox_backlog, quarantined, log_seq FROM nodes ORDER BY name").map { row in
                let (name, seen, backlog, quarantined, seq) = try row.decode((String, Double, Int, Int, Int).self)
                return NodeReport(name: name, seenAt: Date(timeIntervalSince1970: seen), inboxBacklog: backlog, quarantined: quarantined, logSeq: seq)
            }
        }
    }

    private func retire(_ connection: PostgresConnection) {
        open.withLock { $0 -= 1 }
        try? connection.close().wait()
    }

    /// PostgreSQL's own message for a failed query, rather than PSQLError's generic text.
    static func described(_ error: Error) -> Error {
        guard let error = error as? PSQLError else { return error }
        if let message = error.serverInfo?[.message] { return Failure.query(message) }
        return Failure.query("\(error.code)")
    }

    // MARK: Schema

    /// Numbered migrations, applied once each and in order, every one in its own transaction
    /// under the decision lock (two nodes starting together migrate once). Never edit one that
    /// has shipped; add the next.
    static let migrations: [(name: String, statements: [PostgresQuery])] = [
        ("1-schema", [
            """
            CREATE TABLE users (
                name TEXT PRIMARY KEY,
                certificate BYTEA NOT NULL,
                certificate_fingerprint TEXT NOT NULL UNIQUE,
                registered_at DOUBLE PRECISION NOT NULL,
                revoked_at DOUBLE PRECISION
            )
            """,
            """
            CREATE TABLE revoked_keys (
                key_fingerprint TEXT PRIMARY KEY,
                user_name TEXT NOT NULL,
                revoked_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE images (
                name TEXT PRIMARY KEY,
                owner TEXT NOT NULL REFERENCES users(name),
                media_type TEXT NOT NULL,
                width BIGINT NOT NULL,
                height BIGINT NOT NULL,
                size BIGINT NOT NULL,
                blob TEXT NOT NULL,
                envelope_id BYTEA NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                ingested_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX images_blob ON images(blob)",
            """
            CREATE TABLE seen_envelopes (
                sender_key TEXT NOT NULL,
                id BYTEA NOT NULL,
                sender TEXT NOT NULL,
                seen_at DOUBLE PRECISION NOT NULL,
                inbox_name TEXT NOT NULL,
                PRIMARY KEY (sender_key, id)
            )
            """,
            "CREATE INDEX seen_envelopes_id ON seen_envelopes(id)",
            """
            CREATE TABLE notifications (
                seq BIGINT PRIMARY KEY,
                time DOUBLE PRECISION NOT NULL,
                type TEXT NOT NULL,
                name TEXT NOT NULL,
                owner TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size BIGINT NOT NULL,
                prev TEXT NOT NULL,
                line_hash TEXT NOT NULL
            )
            """,
            "CREATE TABLE blob_garbage (blob TEXT PRIMARY KEY, since DOUBLE PRECISION NOT NULL)",
        ]),
        // The CA whose server the catalogue belongs to: one row, written once, so a node of
        // another server is refused before it writes anything.
        ("2-authority", ["CREATE TABLE authority (fingerprint TEXT PRIMARY KEY, bound_at DOUBLE PRECISION NOT NULL)"]),
        // Every blob, so that any node serves any image and a blob commits with its row. The
        // pieces are encrypted envelopes: stored as they are, never compressed.
        ("3-blobs", [
            "CREATE TABLE blobs (hash TEXT PRIMARY KEY, size BIGINT NOT NULL, pieces INTEGER NOT NULL)",
            """
            CREATE TABLE blob_pieces (
                hash TEXT NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE,
                n INTEGER NOT NULL,
                bytes BYTEA NOT NULL,
                PRIMARY KEY (hash, n)
            )
            """,
            "ALTER TABLE blob_pieces ALTER COLUMN bytes SET STORAGE EXTERNAL",
        ]),
        // What each node's daemon last reported, for `server status` on any node.
        ("4-nodes", [
            """
            CREATE TABLE nodes (
                name TEXT PRIMARY KEY,
                seen_at DOUBLE PRECISION NOT NULL,
                inbox_backlog BIGINT NOT NULL,
                quarantined BIGINT NOT NULL,
                log_seq BIGINT NOT NULL
            )
            """,
        ]),
    ]

    func migrate() throws {
        try decide { run in
            try run("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)")
            let applied = Set(try run("SELECT name FROM schema_migrations").map { try $0.decode(String.self) })
            for migration in Self.migrations where !applied.contains(migration.name) {
                for statement in migration.statements { try run(statement) }
                try run("INSERT INTO schema_migrations (name, applied_at) VALUES (\(migration.name), \(Date().timeIntervalSince1970))")
            }
        }
    }

    public func authority() throws -> String? {
        try read { run in try run("SELECT fingerprint FROM authority").first?.decode(String.self) }
    }

    public func bind(authority fingerprint: String) throws -> String {
        try decide { run in
            if let bound = try run("SELECT fingerprint FROM authority").first { return try bound.decode(String.self) }
            try run("INSERT INTO authority (fingerprint, bound_at) VALUES (\(fingerprint), \(Date().timeIntervalSince1970))")
            return fingerprint
        }
    }

    // MARK: Users

    public func addUser(name: String, certificate: [UInt8], fingerprint: String, keyFingerprint key: String, at time: Date) throws {
        try decide { run in
            if let owner = try run("SELECT user_name FROM revoked_keys WHERE key_fingerprint = \(key)").first {
                throw Catalogue.Failure.keyRevoked(try owner.decode(String.self))
            }
            guard try run("SELECT 1 FROM users WHERE name = \(name)").isEmpty else { throw Catalogue.Failure.nameTaken(name) }
            try run("""
                INSERT INTO users (name, certificate, certificate_fingerprint, registered_at)
                VALUES (\(name), \(Data(certificate)), \(fingerprint), \(time.timeIntervalSince1970))
                """)
        }
    }

    static let userColumns = "name, certificate, certificate_fingerprint, registered_at, revoked_at"

    static func user(_ row: PostgresRow) throws -> UserRecord {
        let (name, certificate, fingerprint, registered, revoked) = try row.decode((String, Data, String, Double, Double?).self)
        return UserRecord(name: name, certificate: [UInt8](certificate), certificateFingerprint: fingerprint,
                          registeredAt: Date(timeIntervalSince1970: registered), revokedAt: revoked.map(Date.init(timeIntervalSince1970:)))
    }

    public func user(named name: String) throws -> UserRecord? {
        try read { run in try run("SELECT \(unescaped: Self.userColumns) FROM users WHERE name = \(name)").first.map(Self.user) }
    }

    public func users() throws -> [UserRecord] {
        try read { run in try run("SELECT \(unescaped: Self.userColumns) FROM users ORDER BY name").map(Self.user) }
    }

    public func revoke(name: String, at time: Date) throws -> Date? {
        try decide { run in
            guard let row = try run("SELECT certificate, revoked_at FROM users WHERE name = \(name)").first else {
                throw Catalogue.Failure.noSuchUser(name)
            }
            let (certificate, revoked) = try row.decode((Data, Double?).self)
            if let revoked { return Date(timeIntervalSince1970: revoked) }
            let key = try Catalogue.keyFingerprint(ofCertificate: [UInt8](certificate))
            try run("UPDATE users SET revoked_at = \(time.timeIntervalSince1970) WHERE name = \(name)")
            try run("""
                INSERT INTO revoked_keys (key_fingerprint, user_name, revoked_at) VALUES (\(key), \(name), \(time.timeIntervalSince1970))
                ON CONFLICT DO NOTHING
                """)
            return nil
        }
    }

    public func replaceCertificate(name: String, certificate: [UInt8], fingerprint: String) throws {
        try decide { run in
            let updated = try run("""
                UPDATE users SET certificate = \(Data(certificate)), certificate_fingerprint = \(fingerprint)
                WHERE name = \(name) AND revoked_at IS NULL RETURNING name
                """)
            guard !updated.isEmpty else { throw Catalogue.Failure.noSuchUser(name) }
        }
    }

    public func revokedKeyOwner(_ key: String) throws -> String? {
        try read { run in try run("SELECT user_name FROM revoked_keys WHERE key_fingerprint = \(key)").first?.decode(String.self) }
    }

    // MARK: Images and envelope ids

    public func record(_ images: [ImageRecord], blobs: BlobStore?, beforeCommit: (LogHead.Position?) throws -> Void) throws -> [Int: Catalogue.Refusal] {
        try decide { run in
            var refused: [Int: Catalogue.Refusal] = [:]
            var last = try Self.position(run)
            // Two round trips an image: its checks, then its rows in one statement.
            for (index, image) in images.enumerated() {
                let id = Data(image.envelopeID)
                let (seen, owner, oldBlob) = try run("""
                    SELECT EXISTS (SELECT 1 FROM seen_envelopes WHERE sender_key = \(image.senderKey) AND id = \(id)),
                           (SELECT owner FROM images WHERE name = \(image.name)), (SELECT blob FROM images WHERE name = \(image.name))
                    """)[0].decode((Bool, String?, String?).self)
                if seen {
                    refused[index] = .replay
                    continue
                }
                if let owner, owner != image.owner {
                    refused[index] = .nameOwnedBy(owner)
                    continue
                }
                let ingested = image.ingestedAt.timeIntervalSince1970
                let (record, position) = Catalogue.notification(for: image, after: last)
                // The new blob is nobody's garbage (the same image posted again).
                try run("""
                    WITH seen AS (
                        INSERT INTO seen_envelopes (sender_key, id, sender, seen_at, inbox_name)
                        VALUES (\(image.senderKey), \(id), \(image.owner), \(ingested), \(image.inboxName))
                    ), image AS (
                        INSERT INTO images (name, owner, media_type, width, height, size, blob, envelope_id, created_at, ingested_at)
                        VALUES (\(image.name), \(image.owner), \(image.mediaType), \(image.width), \(image.height), \(image.size),
                                \(image.blob), \(id), \(image.createdAt.timeIntervalSince1970), \(ingested))
                        ON CONFLICT (name) DO UPDATE SET owner = EXCLUDED.owner, media_type = EXCLUDED.media_type, width = EXCLUDED.width,
                            height = EXCLUDED.height, size = EXCLUDED.size, blob = EXCLUDED.blob, envelope_id = EXCLUDED.envelope_id,
                            created_at = EXCLUDED.created_at, ingested_at = EXCLUDED.ingested_at
                    ), notification AS (
                        INSERT INTO notifications (seq, time, type, name, owner, media_type, size, prev, line_hash)
                        VALUES (\(record.seq), \(ingested), 'image', \(image.name), \(image.owner), \(image.mediaType), \(image.size),
                                \(record.prev), \(position.hash))
                    )
                    DELETE FROM blob_garbage WHERE blob = \(image.blob)
                    """)
                // The superseded version's blob goes once this commits, unless another row holds it.
                if let oldBlob, oldBlob != image.blob, try run("SELECT 1 FROM images WHERE blob = \(oldBlob)").isEmpty {
                    try run("INSERT INTO blob_garbage (blob, since) VALUES (\(oldBlob), \(ingested)) ON CONFLICT DO NOTHING")
                }
                last = position
            }
            if let blobs {
                for hash in Set(images.indices.filter { refused[$0] == nil }.map { images[$0].blob }).sorted() {
                    try Self.storeBlob(hash, from: blobs.path(for: hash), run)
                }
            }
            if refused.count < images.count { try run("NOTIFY \(unescaped: Self.changesChannel)") }
            try beforeCommit(refused.count < images.count ? last : nil)
            return refused
        }
    }

    public func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date) throws -> Bool {
        try read { run in
            try !run("""
                INSERT INTO seen_envelopes (sender_key, id, sender, seen_at, inbox_name)
                VALUES (\(senderKey), \(Data(id)), \(sender), \(time.timeIntervalSince1970), \(inboxName))
                ON CONFLICT DO NOTHING RETURNING 1
                """).isEmpty
        }
    }

    public func hasEnvelopes(fromClaim id: String) throws -> Bool {
        try read { run in try !run("SELECT 1 FROM seen_envelopes WHERE inbox_name = \(id) LIMIT 1").isEmpty }
    }

    public func seenInboxName(_ id: [UInt8], senderKey: String) throws -> String? {
        try read { run in
            try run("SELECT inbox_name FROM seen_envelopes WHERE sender_key = \(senderKey) AND id = \(Data(id))").first?.decode(String.self)
        }
    }

    static let imageQuery = """
        SELECT images.name, images.owner, images.media_type, images.width, images.height, images.size, images.blob,
               images.envelope_id, images.created_at, images.ingested_at, seen_envelopes.inbox_name, seen_envelopes.sender_key
        FROM images LEFT JOIN seen_envelopes ON seen_envelopes.id = images.envelope_id AND seen_envelopes.sender = images.owner
        """

    static func image(_ row: PostgresRow) throws -> ImageRecord {
        let (name, owner, mediaType, width, height, size, blob, envelopeID, created, ingested, inbox, senderKey) =
            try row.decode((String, String, String, Int, Int, Int, String, Data, Double, Double, String?, String?).self)
        return ImageRecord(name: name, owner: owner, mediaType: mediaType, width: width, height: height, size: size, blob: blob,
                           envelopeID: [UInt8](envelopeID), createdAt: Date(timeIntervalSince1970: created),
                           ingestedAt: Date(timeIntervalSince1970: ingested), inboxName: inbox ?? "", senderKey: senderKey ?? "")
    }

    public func image(named name: String) throws -> ImageRecord? {
        try read { run in try run("\(unescaped: Self.imageQuery) WHERE images.name = \(name)").first.map(Self.image) }
    }

    public func images() throws -> [ImageRecord] {
        try read { run in try run("\(unescaped: Self.imageQuery) ORDER BY images.name").map(Self.image) }
    }

    public func blobGarbage() throws -> [String] {
        try read { run in try run("SELECT blob FROM blob_garbage ORDER BY blob").map { try $0.decode(String.self) } }
    }

    public func forgetBlob(_ blob: String) throws {
        // Under the lock: a batch recording this blob again (and storing it if it is gone)
        // runs wholly before or after.
        try decide { run in
            try run("DELETE FROM blob_garbage WHERE blob = \(blob)")
            try run("DELETE FROM blobs WHERE hash = \(blob) AND NOT EXISTS (SELECT 1 FROM images WHERE blob = \(blob))")
        }
    }

    // MARK: Blobs

    /// Every blob is kept here, in pieces of this size: a blob is never whole in memory.
    static let blobPiece = 1 << 20

    public var isShared: Bool { true }

    /// Stores the blob at `path`, whose SHA-256 is `hash`, piece by piece, in the caller's
    /// transaction, unless it is stored already (the same bytes).
    static func storeBlob(_ hash: String, from path: String, _ run: Run) throws {
        var source = try FileSource(path: path, followSymlinks: false)
        var info = stat()
        guard stat(path, &info) == 0 else { throw IOFailure(call: "stat", path: path, code: errno) }
        let size = Int(info.st_size), pieces = (size + blobPiece - 1) / blobPiece
        guard try !run("""
            INSERT INTO blobs (hash, size, pieces) VALUES (\(hash), \(size), \(pieces)) ON CONFLICT (hash) DO NOTHING RETURNING 1
            """).isEmpty else { return }
        for n in 0..<pieces {
            let piece = try source.read(upTo: blobPiece)
            guard !piece.isEmpty else { throw IOFailure(call: "read", path: path, code: EIO) }
            try run("INSERT INTO blob_pieces (hash, n, bytes) VALUES (\(hash), \(n), \(ByteBuffer(bytes: piece)))")
        }
        // A file that grew after its stat is not the blob its hash names.
        guard try source.read(upTo: 1).isEmpty else { throw IOFailure(call: "read", path: path, code: EIO) }
    }

    public func readBlob(_ hash: String, _ body: ([UInt8]) throws -> Void) throws -> Bool {
        try read { run in
            guard let pieces = try run("SELECT pieces FROM blobs WHERE hash = \(hash)").first?.decode(Int.self) else { return false }
            for n in 0..<pieces {
                guard let piece = try run("SELECT bytes FROM blob_pieces WHERE hash = \(hash) AND n = \(n)").first?.decode(ByteBuffer.self) else {
                    throw Failure.query("blob \(hash) lacks its piece \(n)")
                }
                try body(Array(piece.readableBytesView))
            }
            return true
        }
    }

    public func storedBlobs() throws -> [String] {
        try read { run in try run("SELECT hash FROM blobs ORDER BY hash").map { try $0.decode(String.self) } }
    }

    public func isBlobReferenced(_ hash: String) throws -> Bool {
        try read { run in try !run("SELECT 1 FROM images WHERE blob = \(hash) LIMIT 1").isEmpty }
    }

    // MARK: Notifications

    static func position(_ run: Run) throws -> LogHead.Position {
        guard let row = try run("SELECT seq, line_hash FROM notifications ORDER BY seq DESC LIMIT 1").first else { return .start }
        let (seq, hash) = try row.decode((Int, String).self)
        return LogHead.Position(seq: seq, hash: hash)
    }

    public func notificationPosition() throws -> LogHead.Position {
        try read { run in try Self.position(run) }
    }

    public func lineHash(seq: Int) throws -> String? {
        try read { run in try run("SELECT line_hash FROM notifications WHERE seq = \(seq)").first?.decode(String.self) }
    }

    public func notifications(after seq: Int) throws -> [NotificationRecord] {
        try read { run in
            try run("SELECT seq, time, type, name, owner, media_type, size, prev FROM notifications WHERE seq > \(seq) ORDER BY seq").map { row in
                let (seq, time, type, name, owner, mediaType, size, prev) = try row.decode((Int, Double, String, String, String, String, Int, String).self)
                return NotificationRecord(seq: seq, time: Date(timeIntervalSince1970: time), type: type, name: name, owner: owner,
                                          mediaType: mediaType, size: size, prev: prev)
            }
        }
    }

    public func counts() throws -> Catalogue.Counts {
        try read { run in
            let row = try run("""
                SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM users WHERE revoked_at IS NOT NULL),
                       (SELECT COUNT(*) FROM images), (SELECT COUNT(*) FROM notifications), (SELECT MAX(ingested_at) FROM images)
                """)[0]
            let (users, revoked, images, notifications, last) = try row.decode((Int, Int, Int, Int, Double?).self)
            return Catalogue.Counts(users: users, revoked: revoked, images: images, notifications: notifications,
                                    lastIngest: last.map(Date.init(timeIntervalSince1970:)))
        }
    }
}
