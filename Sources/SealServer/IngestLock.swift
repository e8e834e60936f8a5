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
