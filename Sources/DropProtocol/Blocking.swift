import Foundation

/// Runs async work from synchronous code (the command line's commands, the client's
/// synchronous API) and waits for it. Never call it from a task of the concurrency pool.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do {
            box.result = .success(try await body())
        } catch {
            box.result = .failure(error)
        }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

private final class ResultBox<T>: @unchecked Sendable {
    // Written once by the task before it signals, read after the wait: the semaphore orders them.
    var result: Result<T, any Error>?
}
