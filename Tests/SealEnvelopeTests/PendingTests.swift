import Foundation
import Testing
@testable import SealEnvelope

/// A value computed beside the caller's work: asking whether it failed never waits for it.
struct PendingTests {
    @Test func askingWhetherItFailedDoesNotWaitForTheComputation() throws {
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        // The computation holds on until this thread lets it go, or gives up after 30 s.
        let pending = Pending<Bool> {
            started.signal()
            return release.wait(timeout: .now() + 30) == .success
        }
        started.wait()
        // Were `hasFailed` to wait for the computation, the release would come only after
        // the computation had given up, and the value would be false.
        #expect(!pending.hasFailed)
        release.signal()
        #expect(try pending.value())
        #expect(!pending.hasFailed)
    }

    /// Computations that take long, or wait for each other, leave Dispatch's pool to the
    /// chunk work queued beside them. (On the pool, 64 of them held the work queued after
    /// them for more than the 20 s allowed here: the pool grows slowly past its one thread
    /// per core.)
    @Test func computationsDoNotHoldTheThreadsChunkWorkRunsOn() throws {
        let release = DispatchSemaphore(value: 0)
        let waiting = (0..<64).map { _ in
            Pending<Bool> { release.wait(timeout: .now() + 30) == .success }
        }
        let ran = DispatchSemaphore(value: 0)
        DispatchQueue.global(qos: .userInitiated).async { ran.signal() }
        #expect(ran.wait(timeout: .now() + 20) == .success)
        for _ in waiting { release.signal() }
        #expect(try waiting.allSatisfy { try $0.value() })
    }

    @Test func aFailureIsToldWithoutWaitingAndRethrownByEveryCaller() throws {
        struct Refused: Error {}
        let pending = Pending<Int> { throw Refused() }
        #expect(throws: Refused.self) { try pending.value() }
        #expect(pending.hasFailed)
        #expect(throws: Refused.self) { try pending.value() }
    }

    @Test func theValueIsComputedOnceAndGivenToEveryCaller() throws {
        let runs = Locked(0)
        let pending = Pending<Int> { runs.withLock { $0 += 1; return $0 } }
        let values = Locked<[Int]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let value = (try? pending.value()) ?? -1
            values.withLock { $0.append(value) }
        }
        #expect(values.withLock { $0 } == Array(repeating: 1, count: 8))
        #expect(runs.withLock { $0 } == 1)
    }
}
