/// The trailer (FORMAT.md §6): payload length and the signature.
struct SignatureBlock {
    static let single: UInt8 = 1

    var payloadLength: UInt64
    var signatureType: UInt8 = single
    var signature: [UInt8]

    init(payloadLength: UInt64, signature: [UInt8]) {
        self.payloadLength = payloadLength
        self.signature = signature
    }

    var bytes: [UInt8] {
        var w = ByteWriter()
        w.u64(payloadLength)
        w.u8(signatureType)
        w.u16(UInt16(signature.count))
        w.raw(signature)
        return w.bytes
    }

    /// Reads the trailer and checks that nothing follows it.
    static func read(from source: inout some ByteSource) throws -> SignatureBlock {
        var fixed = ByteReader(try source.read(exactly: 11, or: .truncated))
        let length = try fixed.u64()
        let type = try fixed.u8()
        guard type == single else { throw EnvelopeError.malformed("signature type \(type) is not supported") }
        let signatureLength = Int(try fixed.u16())
        guard (256...1024).contains(signatureLength) else { throw EnvelopeError.malformed("signature length \(signatureLength)") }
        let signature = try source.read(exactly: signatureLength, or: .truncated)
        guard try source.isAtEnd() else { throw EnvelopeError.trailingData }
        return SignatureBlock(payloadLength: length, signature: signature)
    }
}
