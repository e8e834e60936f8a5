import GcryptKit

/// The signed transcript T (FORMAT.md §7.1): a running SHA-256 that needs no key.
struct Transcript {
    private var hasher = SHA256()

    init(header: [UInt8]) {
        hasher.update(data: Array("sealdrop-v1 transcript".utf8))
        hasher.update(data: header)
    }

    mutating func add(chunkFlag flag: UInt8, length: Int, commitment: [UInt8]) {
        var w = ByteWriter()
        w.u8(flag)
        w.u32(UInt32(length))
        w.raw(commitment)
        hasher.update(data: w.bytes)
    }

    /// T, closed with the trailer's fixed fields.
    func finish(payloadLength: UInt64, signatureType: UInt8) -> [UInt8] {
        var h = hasher
        var w = ByteWriter()
        w.u64(payloadLength)
        w.u8(signatureType)
        h.update(data: w.bytes)
        return h.finalize().bytes
    }

    /// The digest RSA-PSS signs for a single signature: SHA256("sealdrop-v1 single" || T).
    static func signedDigest(_ t: [UInt8]) -> SHA256Digest {
        var h = SHA256()
        h.update(data: Array("sealdrop-v1 single".utf8))
        h.update(data: t)
        return h.finalize()
    }
}
