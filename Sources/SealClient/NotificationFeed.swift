import DropProtocol
import Foundation
import GRDB
import SealEnvelope
import GcryptKit
import SealPKI

/// The server's notification log as a client reads it: verified against the signed head and
/// the head this profile verified last (which it then remembers), records after a cursor,
/// once, or followed as they land (inotify on the file, or the gateway's live stream, with
/// a one-second rescan as a fallback).
public struct NotificationFeed: Sendable {
    public let profile: Profile
    let authority: Certificate
    let delivery: Certificate?
    public let transport: any ServerTransport

    /// `key` is the user's key, which a gateway needs to let them read the log.
    public init(profile: Profile, key: (any RSA.PrivateOperations)? = nil) throws {
        self.profile = profile
        authority = try profile.pinnedAuthority()
        delivery = try profile.pinnedDeliveryCertificate()
        transport = try profile.transport(key: key)
    }

    public func records(after seq: Int) throws -> [NotificationRecord] {
        let known = try profile.verifiedLogHead()
        // The head first: the server appends lines before it signs them, so the lines read
        // after it hold at least the lines it names.
        let head = try transport.logHead()
        // Read from where the last verified line ended, when that is where this read starts.
        let from = min(seq, known.seq)
        let lines = try transport.logLines(after: from, offset: profile.logMark(at: from)?.offset)
        let (records, verified) = try NotificationLog.verifiedRecords(
            head: head, lines: lines.bytes, first: lines.first, source: transport.logSource, authority: authority, delivery: delivery,
            known: known, after: seq)
        try profile.saveVerifiedLogHead(verified)
        if let end = lines.end(ofLine: verified.seq) { try profile.saveLogMark(Profile.LogMark(seq: verified.seq, offset: end)) }
        return records
    }

    /// Calls `deliver` with each batch of new records until `stop` fires, and `wakeUp` at each
    /// wake-up (a record, or a second without one); returns the last seq seen. A server that
    /// cannot be reached (restarting, or a network outage) is tried again every second:
    /// `outage` is told when it stops answering (the failure) and when it answers again (nil).
    public func follow(
        after seq: Int, stop: StopSignal, deliver: ([NotificationRecord]) throws -> Void, wakeUp: () throws -> Void = {},
        outage: (Error?) -> Void = { _ in }
    ) throws -> Int {
        var cursor = seq
        var unreachable = false
        let watch = try transport.watchLog(after: seq)
        while !stop.isStopped {
            do {
                let fresh = try records(after: cursor)
                if let last = fresh.last {
                    try deliver(fresh)
                    cursor = last.seq
                }
                try wakeUp()
                if unreachable {
                    unreachable = false
                    outage(nil)
                }
            } catch let failure as HTTPSTransport.Failure {
                guard case .connection = failure else { throw failure }
                if !unreachable {
                    unreachable = true
                    outage(failure)
                }
            }
            if Inotify.wait(watch.fd, wake: stop.readFD, timeout: 1) { break }
            watch.drain()
        }
        return cursor
    }
}

/// The latest record of each image name, kept in the profile (`images.sqlite`) with the line
/// it reached: `list` and `fetch --all` read only the log lines after it, and `list --last N`
/// reads N rows, however many images the server holds. It is a cache of verified lines: a
/// missing or unreadable index is rebuilt from the log.
public struct ImageIndex: Sendable {
    public let path: String

    public init(profile: Profile) { path = profile.home + "/images.sqlite" }

    /// Brings the index up to the log's verified head, then returns the images by name, or
    /// with `newest`, that many of the latest, newest first.
    public func images(from feed: NotificationFeed, newest: Int? = nil) throws -> [NotificationRecord] {
        let database = try open()
        let reached = try database.read { db in try Int.fetchOne(db, sql: "SELECT seq FROM reached") ?? 0 }
        let fresh = try feed.records(after: reached)
        if let last = fresh.last {
            try database.write { db in
                let upsert = try db.cachedStatement(sql: """
                    INSERT OR REPLACE INTO images (name, seq, time, owner, media_type, size, prev) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """)
                for record in fresh {
                    try upsert.execute(arguments: [record.name, record.seq, record.time.timeIntervalSince1970, record.owner,
                                                   record.mediaType, record.size, record.prev])
                }
                try db.execute(sql: "UPDATE reached SET seq = ?", arguments: [last.seq])
            }
        }
        return try database.read { db in
            let rows = if let newest {
                try Row.fetchAll(db, sql: "SELECT * FROM images ORDER BY seq DESC LIMIT ?", arguments: [newest])
            } else {
                try Row.fetchAll(db, sql: "SELECT * FROM images ORDER BY name")
            }
            return rows.map { row in
                NotificationRecord(seq: row["seq"], time: Date(timeIntervalSince1970: row["time"]), type: "image", name: row["name"],
                                   owner: row["owner"], mediaType: row["media_type"], size: row["size"], prev: row["prev"])
            }
        }
    }

    private func open() throws -> DatabaseQueue {
        // The index before this one, a JSON file, is not read any more.
        unlink(PathText.directory(of: path) + "/images.json")
        do {
            return try connect()
        } catch let error as DatabaseError where [.SQLITE_CORRUPT, .SQLITE_NOTADB].contains(error.resultCode) {
            unlink(path)
            return try connect()
        }
    }

    private func connect() throws -> DatabaseQueue {
        // Created 0600 whatever the umask.
        try FileSink.createPrivateDatabase(path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        let database = try DatabaseQueue(path: path, configuration: configuration)
        try Self.migrator.migrate(database)
        return database
    }

    private static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE images (
                    name TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL UNIQUE, time REAL NOT NULL, owner TEXT NOT NULL,
                    media_type TEXT NOT NULL, size INTEGER NOT NULL, prev TEXT NOT NULL)
                """)
            try db.execute(sql: "CREATE TABLE reached (seq INTEGER NOT NULL)")
            try db.execute(sql: "INSERT INTO reached VALUES (0)")
        }
        return migrator
    }()
}
