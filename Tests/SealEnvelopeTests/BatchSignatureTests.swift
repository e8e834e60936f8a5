import Foundation
import GcryptKit
import SealPKI
import Testing
@testable import SealEnvelope

/// One RSA signature over a batch's Merkle root; every envelope still verifies alone.
@Suite struct BatchSignatureTests {
    static let images = ["coffee.gif", "horse.png", "chelsea.webp", "rocket.jpg", "camera.png"]

    /// Seals the first `count` fixture images as one batch; returns the envelopes' bytes.
    func sealBatch(_ count: Int, suite: Suite = .cbcHMAC) throws -> [[UInt8]] {
        let signer = BatchSigner(sealer: EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey), suite: suite))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pending = try Self.images.prefix(count).map { image in
            try signer.prepare(fixturesDirectory.appendingPathComponent("images/\(image)").path, to: "\(directory)/\(image).seal")
        }
        try signer.finish(pending)
        return try Self.images.prefix(count).map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0).seal"))) }
    }

    @Test(arguments: [1, 2, 3, 5])
    func eachEnvelopeOpensAlone(count: Int) throws {
        let envelopes = try sealBatch(count, suite: count % 2 == 0 ? .gcm : .cbcHMAC)
        for (image, envelope) in zip(Self.images, envelopes) {
            let original = try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent("images/\(image)")))
            #expect(try openInMemory(envelope) == original, "\(image)")
            var source = MemorySource(envelope)
            #expect(try EnvelopeReader.layout(of: &source).signatureType == SignatureBlock.batch)
        }
    }

    /// Every bit of a batch envelope's trailer (index, proof, signature) flipped in turn fails.
    @Test func everyTrailerBitMatters() throws {
        let envelope = try sealBatch(3)[1]
        let trailerLength = 8 + 1 + 4 + 1 + 2 * 32 + 2 + 256
        #expect(envelope.count > trailerLength)
        for bit in ((envelope.count - trailerLength) * 8)..<(envelope.count * 8) {
            var bad = envelope
            bad[bit / 8] ^= 1 << (bit % 8)
            #expect((try? openInMemory(bad)) == nil, "bit \(bit) of the trailer")
        }
    }

    /// A proof taken from another envelope of the same batch does not verify.
    @Test func proofsAreNotInterchangeable() throws {
        let envelopes = try sealBatch(2)
        let trailerLength = 8 + 1 + 4 + 1 + 32 + 2 + 256
        let proofRange = (envelopes[0].count - trailerLength + 9)..<(envelopes[0].count - 258)
        var swapped = envelopes[0]
        let other = envelopes[1]
        swapped.replaceSubrange(proofRange, with: other[(other.count - trailerLength + 9)..<(other.count - 258)])
        #expect(throws: EnvelopeError.tampered) { try openInMemory(swapped) }
    }

    @Test func treeShapes() {
        for count in 1...9 {
            let leaves = (0..<count).map { MerkleTree.leaf([UInt8($0)]) }
            let (root, proofs) = MerkleTree.build(leaves)
            for (index, leaf) in leaves.enumerated() {
                #expect(MerkleTree.root(leaf: leaf, index: UInt32(index), proof: proofs[index]) == root, "count \(count) leaf \(index)")
                if count > 1 {
                    #expect(MerkleTree.root(leaf: leaf, index: UInt32(index ^ 1), proof: proofs[index]) != root, "count \(count) leaf \(index) moved")
                }
            }
        }
    }
}
