import Foundation
import SealPKI
import GcryptKit

/// Batch signing (FORMAT.md §7.2): many envelopes sealed up to their trailers, then one RSA
/// signature over the Merkle root of their transcripts, each envelope receiving its own
/// inclusion proof, so that each still verifies alone. One signature (13-14 ms for RSA-3072)
/// then serves a whole folder of small images.
public struct BatchSigner: Sendable {
    public let sealer: EnvelopeSealer

    public init(sealer: EnvelopeSealer) {
        self.sealer = sealer
    }

    /// An envelope written up to its trailer, in a file that does not exist yet.
    public final class Pending: @unchecked Sendable {
        // Touched by one worker while sealing, then only by `finish`.
        let sink: FileSink
        public let summary: SealSummary
        let transcript: Transcript

        /// Where the envelope appears once its batch is signed.
        public var path: String { sink.path }

        init(sink: FileSink, summary: SealSummary, transcript: Transcript) {
            self.sink = sink
            self.summary = summary
            self.transcript = transcript
        }
    }

    /// Seals `input` into a temporary file beside `output`, all but the trailer.
    public func prepare(_ input: String, to output: String, name: String? = nil, armor: Bool = false) throws -> Pending {
        var source = try FileSource(path: input)
        var sink = try FileSink(path: output, armor: armor)
        let (summary, transcript) = try sealer.sealBody(
            from: &source, to: &sink, name: name ?? PathText.lastComponent(of: input), kind: .image, mediaType: nil, now: Date())
        return Pending(sink: sink, summary: summary, transcript: transcript)
    }

    /// Signs the batch's root once, writes each trailer with its proof, and moves every file
    /// into place. If signing or a trailer fails, no file of the batch appears; each file moved
    /// into place is complete and verifies alone; with `durable`, on disk before it is named.
    public func finish(_ batch: [Pending], replace: Bool = false, durable: Bool = false) throws {
        guard !batch.isEmpty else { return }
        let transcripts = batch.map { $0.transcript.finish(payloadLength: $0.summary.payloadLength, signatureType: SignatureBlock.batch) }
        let (root, proofs) = MerkleTree.build(transcripts.map(MerkleTree.leaf))
        let signature = try sealer.signer.sign(MerkleTree.signedDigest(root: root))
        do {
            for (index, pending) in batch.enumerated() {
                let trailer = SignatureBlock(payloadLength: pending.summary.payloadLength, leafIndex: UInt32(index),
                                             proof: proofs[index], signature: signature)
                try pending.sink.write(trailer.bytes)
            }
            for pending in batch { try pending.sink.commit(mode: 0o644, replace: replace, durable: durable) }
        } catch {
            batch.forEach { $0.sink.discard() }
            throw error
        }
    }
}
