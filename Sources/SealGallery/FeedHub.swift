import DropProtocol
import Foundation
import SealClient

/// The notification log followed for the gallery's pages: one thread follows it (inotify on
/// the server directory, or the gateway's live stream, verified as `tail --follow` verifies)
/// and wakes every open page's event stream, which then reads what is new from its own
/// cursor. A page that slept (a laptop's lid) reconnects with its last seq and catches up.
final class FeedHub: @unchecked Sendable {
    let feed: NotificationFeed
    // Guarded by `lock`.
    private let lock = NSLock()
    let listeners = Broadcast<Update>()
    private var lastKeepAlive = ProcessInfo.processInfo.systemUptime

    /// What an event stream is woken for: the log grew to `seq`, or time to prove the
    /// connection alive (a page gone is noticed then, and its stream ends).
    enum Update: Sendable {
        case seq(Int)
        case keepAlive
    }
    private var latest = 0
    private var failure: String?
    let stop = StopSignal(signals: [])

    init(feed: NotificationFeed) {
        self.feed = feed
    }

    /// Follows the log on a thread of its own until `stop`; a failure (the server
    /// unreachable, a log that does not verify) is kept for the status page and retried.
    func start() {
        let thread = Thread { [self] in
            while !stop.isStopped {
                do {
                    _ = try feed.follow(after: lock.withLock { latest }, stop: stop, deliver: { records in
                        if let last = records.last { publish(last.seq) }
                    }, wakeUp: { keepAlive() })
                } catch {
                    lock.withLock { failure = "\(error)" }
                    _ = Inotify.wait(stop.readFD, wake: stop.readFD, timeout: 2)
                }
            }
        }
        thread.name = "gallery feed"
        thread.start()
    }

    private func publish(_ seq: Int) {
        listeners.send(.seq(lock.withLock {
            latest = max(latest, seq)
            return latest
        }))
    }

    /// At each wake-up of the follower (a second at most): the feed is healthy, and every
    /// 15 s each stream gets a keep-alive.
    private func keepAlive() {
        let due = lock.withLock {
            failure = nil
            let now = ProcessInfo.processInfo.systemUptime
            guard now - lastKeepAlive >= 15 else { return false }
            lastKeepAlive = now
            return true
        }
        if due { listeners.send(.keepAlive) }
    }

    /// Ends every stream (the gallery is shutting down).
    func finishAll() {
        stop.stop()
        listeners.finishAll()
    }

    /// The last seq the follower verified.
    var latestSeq: Int { lock.withLock { latest } }

    /// What went wrong with the feed last, or nil while it is healthy.
    var problem: String? { lock.withLock { failure } }
}
