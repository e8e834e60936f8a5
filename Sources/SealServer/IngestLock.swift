import DropProtocol
import Foundation
import SealEnvelope

/// An exclusive flock on `ROOT/ingest.lock`: whoever holds it owns the inbox for one batch.
/// The kernel drops it when the holder dies, so a killed daemon never blocks the next run.
public final class IngestLock {
    private let fd: Int32

    /// Waits for the lock.
    public init(path: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else {
                close(fd)
                throw IOFailure(call: "flock", path: path, code: errno)
            }
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}

/// `ROOT/daemon.lock`, held for its whole life by the ingesting daemon (`watch`, or `serve`
/// with its ingester), with its pid inside: a second one on the same root is refused,
/// naming the first. The kernel drops it when the holder dies.
public final class DaemonLock {
    private let fd: Int32

    public struct AlreadyRunning: Error, Equatable, CustomStringConvertible {
        public let root: String
        public let pid: Int32?
        public var description: String {
            "an ingesting daemon already runs on \(root)" + (pid.map { " (pid \($0))" } ?? "")
        }
    }

    public init(root: ServerRoot) throws {
        let path = root.path + "/daemon.lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            guard code == EWOULDBLOCK else { throw IOFailure(call: "flock", path: path, code: code) }
            let text = n > 0 ? String(decoding: buffer.prefix(n), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
            throw AlreadyRunning(root: root.path, pid: Int32(text))
        }
        let pid = Array("\(getpid())\n".utf8)
        guard ftruncate(fd, 0) == 0, pwrite(fd, pid, pid.count, 0) == pid.count else {
            let code = errno
            close(fd)
            throw IOFailure(call: "write", path: path, code: code)
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
