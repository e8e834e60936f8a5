import Foundation

/// What happened to one item.
public enum BatchOutcome: Sendable {
    case done(output: String, bytes: UInt64)
    case skipped(SkipReason)
    case failed(Error)

    /// What `error` makes of `item`: a file found in a folder that is not an image is
    /// skipped; anything else failed.
    public init(error: Error, item: BatchItem) {
        if case EnvelopeError.unrecognisedMedia = error, item.discovered {
            self = .skipped(.notAnImage)
        } else {
            self = .failed(error)
        }
    }
}

/// Why an item was left alone: none is an error.
public enum SkipReason: Sendable, CustomStringConvertible {
    /// The output exists already (a resumed batch); `--force` replaces it.
    case outputExists(String)
    /// Done by an earlier run, as its record says (a resumed post).
    case alreadyDone(String)
    /// Found while walking a folder, and not an image.
    case notAnImage
    /// Not started: the batch was interrupted first.
    case interrupted

    public var description: String {
        switch self {
        case .outputExists(let path): "\(path) exists"
        case .alreadyDone(let what): what
        case .notAnImage: "not an image"
        case .interrupted: "not started (interrupted)"
        }
    }
}

public struct BatchResult: Sendable {
    public let item: BatchItem
    public let outcome: BatchOutcome
    public let seconds: Double

    public init(item: BatchItem, outcome: BatchOutcome, seconds: Double) {
        self.item = item
        self.outcome = outcome
        self.seconds = seconds
    }
}

/// Progress so far, reported after each item.
public struct BatchProgress: Sendable {
    public let completed: Int
    public let total: Int
    public let bytes: UInt64
    public let elapsed: Double
}

/// Runs one job per item on `jobs` threads, each taking the next item when it is free,
/// so a batch of many files keeps every core busy. Results come back in input order. Once
/// `stopped` says so, no new item is started: those left are `.skipped(.interrupted)`, and
/// the items in hand finish.
public enum BatchRunner {
    public static func run(
        _ items: [BatchItem], jobs: Int,
        stopped: @Sendable () -> Bool = { false },
        work: @Sendable (BatchItem) -> BatchOutcome,
        progress: @Sendable (BatchProgress) -> Void = { _ in }
    ) -> [BatchResult] {
        let state = State(count: items.count)
        let start = DispatchTime.now().uptimeNanoseconds
        DispatchQueue.concurrentPerform(iterations: max(1, min(jobs, items.count))) { _ in
            while !stopped(), let index = state.next() {
                let began = DispatchTime.now().uptimeNanoseconds
                let outcome = work(items[index])
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
                let snapshot = state.finish(index, BatchResult(item: items[index], outcome: outcome, seconds: seconds),
                                            elapsed: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
                progress(snapshot)
            }
        }
        return state.results(of: items)
    }

    private final class State: @unchecked Sendable {
        // Every field is guarded by `lock`.
        private let lock = NSLock()
        private var nextIndex = 0
        private var completed = 0
        private var bytes: UInt64 = 0
        private var slots: [BatchResult?]

        init(count: Int) { slots = Array(repeating: nil, count: count) }

        func next() -> Int? {
            lock.withLock {
                guard nextIndex < slots.count else { return nil }
                defer { nextIndex += 1 }
                return nextIndex
            }
        }

        func finish(_ index: Int, _ result: BatchResult, elapsed: Double) -> BatchProgress {
            lock.withLock {
                slots[index] = result
                completed += 1
                if case .done(_, let n) = result.outcome { bytes += n }
                return BatchProgress(completed: completed, total: slots.count, bytes: bytes, elapsed: elapsed)
            }
        }

        func results(of items: [BatchItem]) -> [BatchResult] {
            lock.withLock {
                zip(items, slots).map { item, slot in slot ?? BatchResult(item: item, outcome: .skipped(.interrupted), seconds: 0) }
            }
        }
    }
}
