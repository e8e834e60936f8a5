import Foundation

/// Chunks worked on by other cores (`ChunkThreads`) while the calling thread reads the next
/// ones' framing and writes out the ones before (FORMAT.md §11): reading, the chunk work and
/// writing overlap, and the chunks come back in the order they went in. At most
/// `workers + 2` chunks are in flight (a window of `workers + 1`, and the one submitted while
/// the oldest is waited for), so memory stays at a few chunks per core whatever the input's
/// size. With one worker the work is done on the calling thread, as each chunk is submitted.
struct OrderedWork<Item: AnyObject & Sendable> {
    private let work: @Sendable (Item) -> Void
    private let window: Int
    private var inFlight: [(item: Item, done: DispatchSemaphore)] = []

    init(workers: Int, work: @escaping @Sendable (Item) -> Void) {
        self.work = work
        window = workers > 1 ? workers + 1 : 0
    }

    /// Starts `item`'s work; returns the oldest item once its work is done, when the window
    /// is full (with one worker: `item` itself, done).
    mutating func submit(_ item: Item) -> Item? {
        guard window > 0 else {
            work(item)
            return item
        }
        let done = DispatchSemaphore(value: 0)
        ChunkThreads.shared.run { [work] in
            work(item)
            done.signal()
        }
        inFlight.append((item, done))
        return inFlight.count > window ? next() : nil
    }

    /// The oldest item still in flight, once its work is done; nil when none is left.
    mutating func next() -> Item? {
        guard !inFlight.isEmpty else { return nil }
        let (item, done) = inFlight.removeFirst()
        done.wait()
        return item
    }
}
