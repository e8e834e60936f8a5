import Foundation

/// Threads started with pthread_create, so that a thread the system refuses (a user or a
/// container at its task limit: RLIMIT_NPROC, a cgroup's pids.max) is told to the caller,
/// which then does the work itself. Foundation's `Thread.start()` drops that failure, and
/// whoever waited for the thread's work waited for ever (a seal under `prlimit --nproc=4`
/// hung, deaf to SIGTERM, since its interruption waits for the work too).
public enum Threads {
    /// Runs `body` on a new thread named `name`; false, `body` not run, if the system refuses
    /// the thread.
    public static func start(named name: String, _ body: @escaping @Sendable () -> Void) -> Bool {
        let context = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
            Thread.current.name = start.name
            start.body()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Start>.fromOpaque(context).release()
            return false
        }
        pthread_detach(thread)
        return true
    }

    private final class Start {
        let name: String
        let body: @Sendable () -> Void

        init(name: String, body: @escaping @Sendable () -> Void) {
            (self.name, self.body) = (name, body)
        }
    }
}
