import DropProtocol
import Foundation
import Logging
import NIOCore
import PostgresNIO
import SealEnvelope

/// A descriptor that becomes readable when another writer may have added notifications: another
/// node committing on the same PostgreSQL database. A node's daemon polls it beside its inbox,
/// then catches its `notifications.jsonl` up, so its followers see every node's images.
///
/// It listens on `PostgresStore.changesChannel` with a connection of its own, on a thread of its
/// own. It also signals once listening starts and whenever the connection is lost, since
/// commits meanwhile went unheard; it connects again after a pause, until closed.
public final class CatalogueChanges: @unchecked Sendable {
    public let readFD: Int32
    private let writeFD: Int32
    private let stopped = Locked(false)
    private let connection = Locked<PostgresConnection?>(nil)
    private let pause = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let logger: Logger

    init(store: PostgresStore, logger: Logger) {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        (readFD, writeFD) = (fds[0], fds[1])
        self.logger = logger
        Thread.detachNewThread { [self] in
            listen(store)
            finished.signal()
        }
    }

    deinit {
        Glibc.close(readFD)
        Glibc.close(writeFD)
    }

    private func listen(_ store: PostgresStore) {
        while !stopped.withLock({ $0 }) {
            do {
                let opened = try store.connect()
                let closing = stopped.withLock { stopped in
                    if !stopped { connection.withLock { $0 = opened } }
                    return stopped
                }
                if closing {
                    try? opened.close().wait()
                    break
                }
                opened.addListener(channel: PostgresStore.changesChannel) { [weak self] _, _ in self?.signal() }
                // Queries run in order: once this returns, LISTEN is in effect.
                _ = try opened.query("SELECT 1", logger: logger).wait()
                signal()
                try? opened.closeFuture.wait()
            } catch {
                logger.warning("cannot listen for other nodes' commits; retrying", metadata: ["error": "\(PostgresStore.described(error))"])
            }
            connection.withLock { $0 = nil }
            signal()
            _ = pause.wait(timeout: .now() + 1)
        }
    }

    private func signal() {
        var byte: UInt8 = 1
        // A full pipe is signalled already.
        _ = write(writeFD, &byte, 1)
    }

    /// Empties the descriptor once its signal is taken.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while read(readFD, &buffer, buffer.count) > 0 {}
    }

    /// Stops listening, and waits (a few seconds at most) for the listening thread to end.
    public func close() {
        stopped.withLock { $0 = true }
        if let open = connection.withLock({ $0 }) { try? open.close().wait() }
        pause.signal()
        _ = finished.wait(timeout: .now() + 5)
    }
}
