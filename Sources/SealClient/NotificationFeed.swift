import DropProtocol
import Foundation
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
    public init(profile: Profile, key: RSA.PrivateKey? = nil) throws {
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
    /// wake-up (a record, or a second without one); returns the last seq seen.
    public func follow(
        after seq: Int, stop: StopSignal, deliver: ([NotificationRecord]) throws -> Void, wakeUp: () throws -> Void = {}
    ) throws -> Int {
        var cursor = seq
        let watch = try transport.watchLog(after: seq)
        while !stop.isStopped {
            let fresh = try records(after: cursor)
            if let last = fresh.last {
                try deliver(fresh)
                cursor = last.seq
            }
            try wakeUp()
            if Inotify.wait(watch.fd, wake: stop.readFD, timeout: 1) { break }
            watch.drain()
        }
        return cursor
    }
}

/// The latest record of each image name, kept in the profile (`images.json`) with the line it
/// reached: `list` and `fetch --all` read only the lines after it, not the whole log.
public struct ImageIndex: Sendable {
    public let path: String

    public init(profile: Profile) { path = profile.home + "/images.json" }

    struct Stored: Codable {
        let seq: Int
        let images: [NotificationRecord]
    }

    /// Brings the index up to the log's verified head and returns the images, by name.
    public func update(from feed: NotificationFeed) throws -> [NotificationRecord] {
        let stored = (try? KeyFile.readBytes(path, limit: NotificationLog.maximumBytes, followSymlinks: false))
            .flatMap { try? JSONDecoder().decode(Stored.self, from: Data($0)) } ?? Stored(seq: 0, images: [])
        var latest = Dictionary(stored.images.map { ($0.name, $0) }, uniquingKeysWith: { $1 })
        let fresh = try feed.records(after: stored.seq)
        for record in fresh { latest[record.name] = record }
        let images = latest.values.sorted { $0.name < $1.name }
        if let last = fresh.last {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try AtomicFile.write(Array(try encoder.encode(Stored(seq: last.seq, images: images))), to: path, mode: 0o600, replace: true)
        }
        return images
    }
}
