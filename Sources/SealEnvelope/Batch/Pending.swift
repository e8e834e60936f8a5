import Foundation
import GcryptKit

/// A value computed on a thread of its own from the moment it is made, while the caller goes
/// on with other work; `value()` waits for it (from any thread, any number of times) and
/// rethrows what computing it threw. Not on Dispatch's pool: a computation that takes long
/// (a key file's scrypt) or waits for another Pending would hold one of the pool's few
/// threads (one per core), and the chunk work the caller queues there would wait for it. If
/// the system refuses a thread, the value is computed at once, on the caller's.
public final class Pending<Value: Sendable>: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let result = Locked<Result<Value, Error>?>(nil)

    public init(_ compute: @escaping @Sendable () throws -> Value) {
        let work: @Sendable () -> Void = { [done, result] in
            // Computed outside the lock, which `hasFailed` takes and must never wait on.
            let computed = Result { try compute() }
            result.withLock { $0 = computed }
            done.signal()
        }
        if !Threads.start(named: "pending", work) { work() }
    }

    /// Whether computing the value has thrown already (never waits).
    public var hasFailed: Bool {
        result.withLock { if case .failure = $0 { true } else { false } }
    }

    public func value() throws -> Value {
        done.wait()
        defer { done.signal() }
        return try result.withLock { $0! }.get()
    }
}
