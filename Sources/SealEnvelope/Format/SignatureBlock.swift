import GcryptKit

/// The trailer (FORMAT.md §6): payload length and the signature, either over this envelope's
/// transcript alone (type 1) or over the Merkle root of a batch, with this envelope's
/// inclusion proof (type 2, §7.2).
struct SignatureBlock {
    static let single: UInt8 = 1
    static let batch: UInt8 = 2
    /// Batches hold at most 2^20 envelopes.
    static let maximumDepth = 20

    var payloadLength: UInt64
    var signatureType: UInt8
    /// Type 2: this envelope's leaf position and the sibling hashes from leaf to root.
    var leafIndex: UInt32 = 0
    var proof: [[UInt8]] = []
    var signature: [UInt8]

    init(payloadLength: UInt64, signature: [UInt8]) {
        self.payloadLength = payloadLength
        signatureType = Self.single
        self.signature = signature
    }

    init(payloadLength: UInt64, leafIndex: UInt32, proof: [[UInt8]], signature: [UInt8]) {
        self.payloadLength = payloadLength
        signatureType = Self.batch
        self.leafIndex = leafIndex
        self.proof = proof
        self.signature = signature
    }

    var bytes: [UInt8] {
        var w = ByteWriter()
        w.u64(payloadLength)
        w.u8(signatureType)
        if signatureType == Self.batch {
            w.u32(leafIndex)
            w.u8(UInt8(proof.count))
            proof.forEach { w.raw($0) }
        }
        w.u16(UInt16(signature.count))
        w.raw(signature)
        return w.bytes
    }

    /// The digest the RSA-PSS signature covers, given the envelope's transcript T (§7).
    func signedDigest(transcript t: [UInt8]) -> SHA256Digest {
        guard signatureType == Self.batch else { return Transcript.signedDigest(t) }
        return MerkleTree.signedDigest(root: MerkleTree.root(leaf: MerkleTree.leaf(t), index: leafIndex, proof: proof))
    }

    /// Reads the trailer and checks that nothing follows it.
    static func read(from source: inout some ByteSource) throws -> SignatureBlock {
        var fixed = ByteReader(try source.read(exactly: 9, or: .truncated))
        let length = try fixed.u64()
        let type = try fixed.u8()
        var leafIndex: UInt32 = 0
        var proof: [[UInt8]] = []
        switch type {
        case single:
            break
        case batch:
            var position = ByteReader(try source.read(exactly: 5, or: .truncated))
            leafIndex = try position.u32()
            let depth = Int(try position.u8())
            guard depth <= maximumDepth, UInt64(leafIndex) < UInt64(1) << depth else {
                throw EnvelopeError.malformed("batch proof of depth \(depth) for leaf \(leafIndex)")
            }
            for _ in 0..<depth { proof.append(try source.read(exactly: 32, or: .truncated)) }
        default:
            throw EnvelopeError.malformed("signature type \(type) is not supported")
        }
        var lengthField = ByteReader(try source.read(exactly: 2, or: .truncated))
        let signatureLength = Int(try lengthField.u16())
        guard (256...1024).contains(signatureLength) else { throw EnvelopeError.malformed("signature length \(signatureLength)") }
        let signature = try source.read(exactly: signatureLength, or: .truncated)
        guard try source.isAtEnd() else { throw EnvelopeError.trailingData }
        return type == batch
            ? SignatureBlock(payloadLength: length, leafIndex: leafIndex, proof: proof, signature: signature)
            : SignatureBlock(payloadLength: length, signature: signature)
    }
}

/// The batch signature's tree (FORMAT.md §7.2): leaves SHA256(00 || T), nodes
/// SHA256(01 || left || right), padded to a power of two with SHA256(02).
public enum MerkleTree {
    static func leaf(_ t: [UInt8]) -> [UInt8] { SHA256.hash(data: [0x00] + t).bytes }
    static let padding = SHA256.hash(data: [UInt8]([0x02])).bytes
    static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] { SHA256.hash(data: [0x01] + left + right).bytes }

    /// The root reached from `leaf` at `index` through `proof` (siblings, leaf level first).
    static func root(leaf: [UInt8], index: UInt32, proof: [[UInt8]]) -> [UInt8] {
        var current = leaf
        for (level, sibling) in proof.enumerated() {
            current = (index >> UInt32(level)) & 1 == 0 ? node(current, sibling) : node(sibling, current)
        }
        return current
    }

    static func signedDigest(root: [UInt8]) -> SHA256Digest {
        SHA256.hash(data: Array("sealdrop-v1 batch".utf8) + root)
    }

    /// The root of `leaves` and each leaf's proof.
    static func build(_ leaves: [[UInt8]]) -> (root: [UInt8], proofs: [[[UInt8]]]) {
        precondition(!leaves.isEmpty && leaves.count <= 1 << SignatureBlock.maximumDepth)
        var width = 1
        while width < leaves.count { width *= 2 }
        var level = leaves + Array(repeating: padding, count: width - leaves.count)
        var proofs = Array(repeating: [[UInt8]](), count: leaves.count)
        var positions = Array(0..<leaves.count)
        while level.count > 1 {
            for i in 0..<leaves.count { proofs[i].append(level[positions[i] ^ 1]) }
            level = stride(from: 0, to: level.count, by: 2).map { node(level[$0], level[$0 + 1]) }
            positions = positions.map { $0 / 2 }
        }
        return (level[0], proofs)
    }
}
