import Foundation
import SealEnvelope

/// The Linux inotify calls, grouped (as NIO groups epoll). Events are only a wake-up hint:
/// the watcher rescans the directory whatever they say.
public enum Inotify {
    /// An inotify instance watching some paths; closed on deinit.
    public final class Watch {
        public let fd: Int32

        public init(path: String, mask: UInt32) throws {
            fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            guard fd >= 0 else { throw IOFailure(call: "inotify_init1", path: path, code: errno) }
            guard inotify_add_watch(fd, path, mask) >= 0 else {
                let code = errno
                close(fd)
                throw IOFailure(call: "inotify_add_watch", path: path, code: code)
            }
        }

        deinit { close(fd) }

        /// Reads every pending event; returns their masks (names are not needed: the caller
        /// rescans). Empty when nothing is pending.
        public func drain() -> [UInt32] {
            var masks: [UInt32] = []
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return masks }
                var offset = 0
                // struct inotify_event { int wd; uint32_t mask, cookie, len; char name[]; }
                while offset + 16 <= n {
                    let mask = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self) }
                    let length = buffer.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self) }
                    masks.append(mask)
                    offset += 16 + Int(length)
                }
            }
        }
    }

    public static let moved = UInt32(IN_MOVED_TO)
    public static let closedWrite = UInt32(IN_CLOSE_WRITE)
    public static let modified = UInt32(IN_MODIFY)
    public static let overflow = UInt32(IN_Q_OVERFLOW)

    /// Waits until `watch` or `wake` is readable, or `timeout` seconds pass. Returns true when
    /// `wake` fired.
    public static func wait(_ watch: Watch, wake: Int32, timeout: Double) -> Bool {
        wait(watch.fd, wake: wake, timeout: timeout)
    }

    /// The same for any descriptor that signals by becoming readable.
    public static func wait(_ fd: Int32, wake: Int32, timeout: Double) -> Bool {
        wait([fd, wake], timeout: timeout)[1]
    }

    /// Waits until any of `fds` is readable, or `timeout` seconds pass; which ones are. A
    /// negative descriptor is left out.
    public static func wait(_ fds: [Int32], timeout: Double) -> [Bool] {
        var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let rc = poll(&polled, nfds_t(polled.count), Int32(timeout * 1000))
        return polled.map { rc > 0 && $0.revents & Int16(POLLIN) != 0 }
    }
}

/// SIGTERM and SIGINT turned into a flag and a readable pipe, so a loop blocked in poll wakes
/// and can finish what it holds before exiting.
public final class StopSignal: @unchecked Sendable {
    // `stopped` is written from the signal source's queue and read by the loop; a lock guards it.
    private let lock = NSLock()
    private var stopped = false
    public let readFD: Int32
    private let writeFD: Int32
    private var sources: [DispatchSourceSignal] = []

    /// Stops on any of `signals`; with none, only when `stop()` is called (a service that
    /// stops when its service group shuts down).
    public init(signals: [Int32] = [SIGTERM, SIGINT]) {
        var fds: [Int32] = [0, 0]
        pipe(&fds)
        readFD = fds[0]
        writeFD = fds[1]
        for signal in signals {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { [weak self] in self?.stop() }
            source.resume()
            sources.append(source)
        }
    }

    public var isStopped: Bool { lock.withLock { stopped } }

    public func stop() {
        lock.withLock { stopped = true }
        var byte: UInt8 = 1
        _ = write(writeFD, &byte, 1)
    }
}
