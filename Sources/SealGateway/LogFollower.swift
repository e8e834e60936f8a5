import DropProtocol
import Foundation
import SealEnvelope
import SealPKI

/// The notification log as the gateway serves it: an index of where each line starts (so
/// `GET /v1/log?after=N` reads only what it sends), kept up to date by inotify on the root
/// directory (the head is replaced by rename, the log appended), and every change pushed to
/// the live streams. Whoever ingests (this process or a separate `watch`), a new line
/// reaches every subscriber within milliseconds of its commit.
final class LogFollower: @unchecked Sendable {
    /// What a subscriber is woken for: the log or its head changed (it reads what is new
    /// from its own cursor, so a wake-up it slept through loses nothing), or time for a
    /// keep-alive.
    enum Update: Sendable {
        case changed
        case keepAlive
    }

    let root: ServerRoot
    private let lock = NSLock()
    /// `offsets[k]` is where line k+1 starts; the last entry is the end of the last complete line.
    private var offsets: [Int] = [0]
    private var head: [UInt8]?
    private let listeners = Broadcast<Update>()

    init(root: ServerRoot) {
        self.root = root
        _ = refresh()
    }

    var subscriberCount: Int { listeners.count }

    /// Waits for changes until `stop` fires; sends a keep-alive every `keepAlive` seconds.
    func run(until stop: StopSignal, keepAlive: Double) throws {
        let watch = try Inotify.Watch(path: root.path, mask: Inotify.moved | Inotify.closedWrite | Inotify.modified)
        var lastKeepAlive = ProcessInfo.processInfo.systemUptime
        while !stop.isStopped {
            if refresh() { publish(.changed) }
            let now = ProcessInfo.processInfo.systemUptime
            if now - lastKeepAlive >= keepAlive {
                publish(.keepAlive)
                lastKeepAlive = now
            }
            // A rescan every second besides the events, which are only a hint.
            if Inotify.wait(watch, wake: stop.readFD, timeout: min(1, keepAlive)) { break }
            _ = watch.drain()
        }
        listeners.finishAll()
    }

    /// A stream of updates from now on; the caller reads what came before with `lines(after:)`.
    func subscribe() -> (id: UUID, updates: AsyncStream<Update>) {
        listeners.subscribe()
    }

    func unsubscribe(_ id: UUID) {
        listeners.unsubscribe(id)
    }

    /// The signed head as last read, or nil while the server has signed none. Read it
    /// before `lines(after:)`: the lines indexed then include every line it names.
    var currentHead: [UInt8]? { lock.withLock { head } }

    /// Up to `limit` complete lines after line `seq`, with their numbers.
    func lines(after seq: Int, limit: Int) throws -> [(seq: Int, bytes: [UInt8])] {
        let (start, end, first): (Int, Int, Int) = lock.withLock {
            let available = offsets.count - 1
            let from = min(max(seq, 0), available)
            let to = min(available, from + limit)
            return (offsets[from], offsets[to], from + 1)
        }
        guard end > start else { return [] }
        let bytes = try Self.read(root.notificationLogPath, from: start, count: end - start)
        return bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().enumerated().map {
            (first + $0.offset, Array($0.element))
        }
    }

    /// Reads the head, then indexes new complete lines (so the index always holds the lines
    /// the head names: the server appends before it signs); true when either changed.
    private func refresh() -> Bool {
        let newHead = try? KeyFile.readBytes(root.notificationHeadPath, limit: LogHead.maximumBytes, followSymlinks: false)
        let path = root.notificationLogPath
        let known = lock.withLock { offsets.last ?? 0 }
        var size = 0
        var info = stat()
        if stat(path, &info) == 0 { size = Int(info.st_size) }
        var start = known
        if size < known {
            // The log was rebuilt shorter (it never is by the server; a restore from backup
            // may): index it again from the start.
            lock.withLock { offsets = [0] }
            start = 0
        }
        var fresh = false
        if size > start, let tail = try? Self.read(path, from: start, count: size - start),
           let lastNewline = tail.lastIndex(of: UInt8(ascii: "\n")) {
            lock.withLock {
                for (index, byte) in tail[...lastNewline].enumerated() where byte == UInt8(ascii: "\n") {
                    offsets.append(start + index + 1)
                }
            }
            fresh = true
        }
        let headChanged = lock.withLock {
            guard let newHead, newHead != head else { return false }
            head = newHead
            return true
        }
        return fresh || headChanged
    }

    private func publish(_ update: Update) {
        listeners.send(update)
    }

    private static func read(_ path: String, from offset: Int, count: Int) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return Array(buffer.prefix(done))
    }
}
