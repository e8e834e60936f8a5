import Foundation
import GcryptKit
import Testing
@testable import SealEnvelope

/// Chunk work done on the chunk threads comes back in the order it went in.
struct OrderedWorkTests {
    final class Item: @unchecked Sendable {
        let index: Int
        // Written by the one job that works on the item, read after it is returned.
        var result = -1
        init(_ index: Int) { self.index = index }
    }

    /// Items finishing out of order (uneven work) are still returned in order, each done.
    func run(_ count: Int, workers: Int, work: @escaping @Sendable (Item) -> Void) -> [Item] {
        var ordered = OrderedWork<Item>(workers: workers, work: work)
        var out: [Item] = []
        for index in 0..<count {
            if let done = ordered.submit(Item(index)) { out.append(done) }
        }
        while let done = ordered.next() { out.append(done) }
        return out
    }

    @Test(arguments: [1, 2, 4])
    func itemsComeBackInOrderWithTheirWorkDone(workers: Int) {
        let out = run(200, workers: workers) { item in
            usleep(useconds_t((item.index * 7919) % 5) * 200)
            item.result = item.index * 2
        }
        #expect(out.map(\.index) == Array(0..<200))
        #expect(out.allSatisfy { $0.result == $0.index * 2 })
    }

    /// Work that itself hands out work (every chunk thread busy with such jobs) still ends:
    /// on a chunk thread, it is done inline.
    @Test func workHandingOutWorkEnds() {
        let finished = DispatchSemaphore(value: 0)
        let results = Locked<[Int]>([])
        Thread { [self] in
            let out = run(2 * Cores.available + 2, workers: Cores.available) { item in
                item.result = run(5, workers: Cores.available) { $0.result = $0.index }.map(\.result).reduce(0, +)
            }
            results.withLock { $0 = out.map(\.result) }
            finished.signal()
        }.start()
        #expect(finished.wait(timeout: .now() + 30) == .success)
        #expect(results.withLock { $0 } == Array(repeating: 10, count: 2 * Cores.available + 2))
    }

    /// A job done is let go of (and its chunk with it) while later jobs still wait: a batch
    /// keeps the queue from emptying for as long as it runs.
    @Test func aJobDoneIsLetGoOfWhileOthersWait() {
        final class Chunk: Sendable {}
        var chunk: Chunk? = Chunk()
        weak let held = chunk
        let ran = DispatchSemaphore(value: 0), started = DispatchSemaphore(value: 0), gate = DispatchSemaphore(value: 0)
        ChunkThreads.shared.run { [chunk] in
            _ = chunk
            ran.signal()
        }
        chunk = nil
        // One more job than there are threads: every thread takes one and waits, one is left queued.
        for _ in 0...Cores.available {
            ChunkThreads.shared.run {
                started.signal()
                gate.wait()
            }
        }
        ran.wait()
        // Every thread has moved on from the first job.
        for _ in 0..<Cores.available { started.wait() }
        #expect(held == nil)
        for _ in 0...Cores.available { gate.signal() }
        started.wait()
    }
}
