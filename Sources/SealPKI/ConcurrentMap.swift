import Foundation

extension Collection where Index == Int {
    /// `transform` of each element, run on every core in blocks of `block` elements, results
    /// in order. Each error is kept in its element's place, so a caller can act on the first
    /// in order as a sequential loop would (a transform that cannot throw gives Result<T, Never>).
    public func concurrentMap<T, E: Error>(
        block: Int = 1, _ transform: @Sendable (Element) throws(E) -> T
    ) -> [Result<T, E>] where Self: Sendable {
        let results = UnsafeMutableBufferPointer<Result<T, E>?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        // Each slot is written by exactly one iteration.
        nonisolated(unsafe) let slots = results
        let first = startIndex, total = count
        DispatchQueue.concurrentPerform(iterations: (total + block - 1) / block) { chunk in
            for offset in chunk * block..<Swift.min(total, (chunk + 1) * block) {
                slots[offset] = Result { () throws(E) -> T in try transform(self[first + offset]) }
            }
        }
        return results.map { $0! }
    }
}
