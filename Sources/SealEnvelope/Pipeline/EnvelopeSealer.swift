import Foundation
import GcryptKit
import SealPKI

/// What sealing produced.
public struct SealSummary: Sendable {
    public let envelopeID: [UInt8]
    public let payloadLength: UInt64
    public let mediaType: String
    public let width: UInt32
    public let height: UInt32
}

/// The sealing pipeline: read -> (detect media) -> encrypt+MAC per chunk -> hash the
/// transcript -> sign -> wrap the key -> package. One pass over the input, one chunk in
/// memory at a time (FORMAT.md §11).
public struct EnvelopeSealer: Sendable {
    public let signer: any Signer
    public let recipient: any Recipient
    public var suite: Suite
    public var chunkSize: Int

    public init(signer: any Signer, recipient: any Recipient, suite: Suite = .cbcHMAC,
                chunkSize: Int = EnvelopeHeader.defaultChunkSize) {
        self.signer = signer
        self.recipient = recipient
        self.suite = suite
        self.chunkSize = chunkSize
    }

    /// Seals everything `source` yields into `sink`. For an image, the media type is detected
    /// from the first bytes and an unrecognised input is refused before anything is written.
    /// For a message, `mediaType` must be given.
    public func seal(
        from source: inout some ByteSource, to sink: inout some ByteSink, name: String,
        kind: EnvelopeKind = .image, mediaType: String? = nil, now: Date = Date()
    ) throws -> SealSummary {
        var current = try source.read(exactly: chunkSize, orShortAtEnd: ())
        let media: MediaType
        switch kind {
        case .image:
            guard let detected = MediaType.detect(current) else { throw EnvelopeError.unrecognisedMedia }
            media = detected
        case .message:
            guard let mediaType else { throw EnvelopeError.malformed("a message needs a media type") }
            media = MediaType(name: mediaType, width: 0, height: 0)
        }

        let contentKey = SecretBytes(randomCount: KeySchedule.contentKeyLength)
        var header = EnvelopeHeader(
            kind: kind, suite: suite, envelopeID: Random.bytes(count: 16),
            created: UInt64((now.timeIntervalSince1970 * 1000).rounded()), chunkSize: chunkSize,
            recipient: recipient.fingerprint, keyCommitment: KeySchedule.commitment(for: contentKey),
            name: name, mediaType: media.name, width: media.width, height: media.height,
            // header_length, inside the fields, counts the wrapped key: reserve its length.
            senderCertificate: signer.certificate, wrappedKey: [UInt8](repeating: 0, count: recipient.wrappedKeyLength))
        try header.validate()
        let fieldsDigest = KeySchedule.fieldsDigest(header.fields)
        header.wrappedKey = try recipient.wrap(contentKey, label: fieldsDigest)
        precondition(header.wrappedKey.count == recipient.wrappedKeyLength)
        let cipher = ChunkCiphers.make(suite, keys: KeySchedule(contentKey: contentKey, fieldsDigest: fieldsDigest))

        let headerBytes = header.bytes
        try sink.write(headerBytes)
        var transcript = Transcript(header: headerBytes)
        var index: UInt64 = 0
        var total: UInt64 = 0
        while true {
            let next = current.count == chunkSize ? try source.read(exactly: chunkSize, orShortAtEnd: ()) : []
            let final = next.isEmpty
            total += UInt64(current.count)
            let tag = cipher.seal(&current, index: index, final: final)
            let flag = ChunkCiphers.flag(final)
            transcript.add(chunkFlag: flag, length: current.count, commitment: cipher.commitment(ciphertext: current, tag: tag))
            var frame = ByteWriter()
            frame.u8(flag)
            frame.u32(UInt32(current.count))
            try sink.write(frame.bytes)
            try sink.write(current)
            try sink.write(tag)
            if final { break }
            current = next
            index += 1
        }
        let t = transcript.finish(payloadLength: total, signatureType: SignatureBlock.single)
        let signature = try signer.sign(Transcript.signedDigest(t))
        try sink.write(SignatureBlock(payloadLength: total, signature: signature).bytes)
        return SealSummary(envelopeID: header.envelopeID, payloadLength: total, mediaType: media.name,
                           width: media.width, height: media.height)
    }
}

extension ByteSource {
    /// Up to `count` bytes, short only at the end of the input.
    mutating func read(exactly count: Int, orShortAtEnd: Void) throws -> [UInt8] {
        var out = try read(upTo: count)
        while out.count < count {
            let more = try read(upTo: count - out.count)
            if more.isEmpty { break }
            out += more
        }
        return out
    }
}
