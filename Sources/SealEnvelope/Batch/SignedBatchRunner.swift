import Foundation

/// Runs a batch whose envelopes share signatures (FORMAT.md §7.2): in groups of up to
/// `groupSize`, each item is sealed up to its trailer on `jobs` threads, the group's Merkle
/// root is signed once, and the group's envelopes, now complete and in place, are handed to
/// `deliver` together, in the group's order (to be sent one by one, or as one bundle). One RSA
/// signature then serves a whole group of small images.
public enum SignedBatchRunner {
    /// How many envelopes share one signature by default: one RSA signature a group, and a
    /// proof of 8 hashes in each envelope.
    public static let groupSize = 256

    /// What `prepare` made of an item: an envelope waiting for its group's signature, or an
    /// outcome already (skipped, failed).
    public enum Prepared: Sendable {
        case sealed(BatchSigner.Pending)
        case settled(BatchOutcome)
    }

    /// Results in input order. If a group's signature or a trailer fails, every envelope of
    /// that group fails with it and none is delivered; `deliver` gives each envelope's outcome.
    public static func run(
        _ items: [BatchItem], groupSize: Int, jobs: Int, signer: BatchSigner,
        replace: Bool = false, durable: Bool = false,
        stopped: @escaping @Sendable () -> Bool = { false },
        prepare: @Sendable (BatchItem) -> Prepared,
        deliver: ([(item: BatchItem, envelope: BatchSigner.Pending)]) -> [BatchOutcome],
        progress: @Sendable (BatchProgress) -> Void = { _ in }
    ) -> [BatchResult] {
        var results: [BatchResult] = []
        for start in stride(from: 0, to: items.count, by: max(1, groupSize)) {
            let group = Array(items[start..<min(items.count, start + max(1, groupSize))])
            let pending = Locked([Int: BatchSigner.Pending]())
            let positions = Dictionary(uniqueKeysWithValues: group.enumerated().map { ($1.input, $0) })
            var groupResults = BatchRunner.run(group, jobs: jobs, stopped: stopped, work: { item in
                switch prepare(item) {
                case .settled(let outcome):
                    return outcome
                case .sealed(let envelope):
                    pending.withLock { $0[positions[item.input]!] = envelope }
                    return .done(output: item.output, bytes: envelope.summary.payloadLength)
                }
            }, progress: progress)
            // In the group's order: the leaf order of the tree.
            let sealed = pending.withLock { $0 }.sorted { $0.key < $1.key }
            do {
                try signer.finish(sealed.map(\.value), replace: replace, durable: durable)
                let outcomes = deliver(sealed.map { (groupResults[$0.key].item, $0.value) })
                for ((position, _), outcome) in zip(sealed, outcomes) {
                    let result = groupResults[position]
                    groupResults[position] = BatchResult(item: result.item, outcome: outcome, seconds: result.seconds)
                }
            } catch {
                for (position, _) in sealed {
                    let result = groupResults[position]
                    groupResults[position] = BatchResult(item: result.item, outcome: .failed(error), seconds: result.seconds)
                }
            }
            results += groupResults
        }
        return results
    }
}
