import DropProtocol
import Foundation
import Logging

/// `sealdrop server watch`: ingests at start, then whenever inotify reports a drop, on queue
/// overflow, when another node commits on a shared catalogue (its lines join this node's
/// log), and every `rescanInterval` seconds whatever happened (events are only a hint:
/// they are lost on overflow and for some moves). Stops on SIGTERM/SIGINT after the batch in hand.
/// An ingestion error (a full disk) is logged and retried at the next rescan.
public struct Watcher {
    public let ingester: Ingester
    public var rescanInterval: Double = 30
    public let logger: Logger

    public init(ingester: Ingester, rescanInterval: Double = 30, logger: Logger) {
        self.ingester = ingester
        self.rescanInterval = rescanInterval
        self.logger = logger
    }

    public func run(until stop: StopSignal) throws {
        let watch = try Inotify.Watch(path: ingester.root.inboxNew, mask: Inotify.moved | Inotify.closedWrite)
        // Other nodes' commits wake it too: the log is caught up from the catalogue at once.
        let changes = ingester.catalogue.changes()
        defer { changes?.close() }
        logger.info("watching", metadata: ["inbox": "\(ingester.root.inboxNew)", "rescan_seconds": "\(rescanInterval)"])
        while !stop.isStopped {
            do {
                _ = try ingester.runUntilEmpty(shouldStop: { stop.isStopped })
                try ingester.reportNode()
            } catch {
                // A full disk or another I/O failure: nothing uncommitted has left the inbox, so
                // keep running and try again at the next rescan rather than exit.
                logger.error("ingestion failed; retrying at the next rescan", metadata: ["error": "\(error)"])
            }
            let ready = Inotify.wait([watch.fd, stop.readFD, changes?.readFD ?? -1], timeout: rescanInterval)
            if ready[1] { break }
            if ready[2] { changes?.drain() }
            if watch.drain().contains(where: { $0 & Inotify.overflow != 0 }) {
                logger.warning("inotify queue overflowed; rescanning")
            }
        }
        logger.info("stopped")
    }
}
