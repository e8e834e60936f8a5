import Foundation
import SealPKI
import DropProtocol

/// The server's notification log as a client reads it: verified against the signed head and
/// the head this profile verified last (which it then remembers), records after a cursor,
/// once, or followed as they land (inotify on the head, with a one-second rescan as a
/// fallback).
public struct NotificationFeed: Sendable {
    public let profile: Profile
    let authority: Certificate
    let delivery: Certificate?

    public init(profile: Profile) throws {
        self.profile = profile
        authority = try profile.pinnedAuthority()
        delivery = try profile.pinnedDeliveryCertificate()
    }

    public func records(after seq: Int) throws -> [NotificationRecord] {
        let (records, head) = try NotificationLog.verifiedRecords(
            at: profile.server.notificationLogPath, authority: authority, delivery: delivery, known: profile.verifiedLogHead(), after: seq)
        try profile.saveVerifiedLogHead(head)
        return records
    }

    /// Calls `deliver` with each batch of new records until `stop` fires; returns the last seq seen.
    public func follow(after seq: Int, stop: StopSignal, deliver: ([NotificationRecord]) throws -> Void) throws -> Int {
        var cursor = seq
        let watch = try Inotify.Watch(path: profile.server.notificationLogPath, mask: Inotify.modified | Inotify.closedWrite)
        while !stop.isStopped {
            let fresh = try records(after: cursor)
            if let last = fresh.last {
                try deliver(fresh)
                cursor = last.seq
            }
            if Inotify.wait(watch, wake: stop.readFD, timeout: 1) { break }
            _ = watch.drain()
        }
        return cursor
    }
}
