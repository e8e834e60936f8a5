import Foundation
import GcryptKit

/// The threads that do chunk work, one per core, shared by every `OrderedWork` of the
/// process, taking jobs in the order they came. On Dispatch's global queue, as before, a
/// 1 GiB gcm seal kept the cores 164-170% busy; on these, 169-181% (six runs of each,
/// alternating). A job that itself submits work (none does today) has it run inline, so
/// the threads can never all wait on each other; so does every job if the system refused
/// every thread.
final class ChunkThreads: @unchecked Sendable {
    static let shared = ChunkThreads(count: Cores.available)
    /// Set on each of these threads (a pthread key: asked at every job, it costs no lookup
    /// in a dictionary).
    private static let marker: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    // `jobs` and `next` are guarded by `condition`. A job taken is let go of at once: it
    // holds its chunk, and the queue may not empty for as long as a batch runs.
    private let condition = NSCondition()
    private var jobs: [(@Sendable () -> Void)?] = []
    private var next = 0
    /// How many threads the system gave of those asked for (set before `shared` is).
    private var started = 0

    private init(count: Int) {
        started = (0..<count).count { index in
            Threads.start(named: "chunk-\(index)") { [self] in
                pthread_setspecific(Self.marker, UnsafeRawPointer(bitPattern: 1))
                while true { take()() }
            }
        }
    }

    /// Runs `job` on one of the threads, or at once on this one if it is one of them or there
    /// are none.
    func run(_ job: @escaping @Sendable () -> Void) {
        if started == 0 || pthread_getspecific(Self.marker) != nil { return job() }
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// The oldest job waiting, once there is one.
    private func take() -> @Sendable () -> Void {
        condition.lock()
        defer { condition.unlock() }
        while next == jobs.count { condition.wait() }
        let job = jobs[next]!
        jobs[next] = nil
        next += 1
        if next == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            next = 0
        } else if next >= 64, 2 * next >= jobs.count {
            jobs.removeFirst(next)
            next = 0
        }
        return job
    }
}
