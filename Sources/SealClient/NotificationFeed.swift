import Foundation
import SealServer

/// The server's notification log as a client reads it: records after a cursor, once, or
/// followed as they land (inotify on the file, with a one-second rescan as a fallback).
public struct NotificationFeed: Sendable {
    public let server: ServerRoot

    public init(server: ServerRoot) {
        self.server = server
    }

    public func records(after seq: Int) throws -> [NotificationRecord] {
        try NotificationLog.records(at: server.notificationLogPath, after: seq)
    }

    /// Calls `deliver` with each batch of new records until `stop` fires; returns the last seq seen.
    public func follow(after seq: Int, stop: StopSignal, deliver: ([NotificationRecord]) throws -> Void) throws -> Int {
        var cursor = seq
        let watch = try Inotify.Watch(path: server.notificationLogPath, mask: Inotify.modified | Inotify.closedWrite)
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
