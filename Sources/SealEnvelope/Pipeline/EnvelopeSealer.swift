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
    /// Chunks of one input sealed at once: a large file uses every core, memory stays at
    /// about two chunks per worker.
    public var chunkWorkers: Int
    /// When set, every envelope carries this batch key instead of its own wrapped content
    /// key (§5.1): one RSA operation for the whole batch, here and at the recipient.
    public var batchKey: BatchKey?
    /// Only for tests of the §5 rule that readers refuse any other length: never set it.
    var unsafeContentKeyLength = KeySchedule.contentKeyLength
    /// Only for tests of the §3 rule that an image's content must match its media type.
    var unsafeMediaType: String?

    public init(signer: any Signer, recipient: any Recipient, suite: Suite = .cbcHMAC,
                chunkSize: Int = EnvelopeHeader.defaultChunkSize,
                chunkWorkers: Int = Cores.available) {
        self.signer = signer
        self.recipient = recipient
        self.suite = suite
        self.chunkSize = chunkSize
        self.chunkWorkers = chunkWorkers
    }

    /// Seals everything `source` yields into `sink`. For an image, the media type is detected
    /// from the first bytes and an unrecognised input is refused before anything is written.
    /// For a message, `mediaType` must be given.
    public func seal(
        from source: inout some ByteSource, to sink: inout some ByteSink, name: String,
        kind: EnvelopeKind = .image, mediaType: String? = nil, now: Date = Date()
    ) throws -> SealSummary {
        let (summary, transcript) = try sealBody(from: &source, to: &sink, name: name, kind: kind, mediaType: mediaType, now: now)
        let t = transcript.finish(payloadLength: summary.payloadLength, signatureType: SignatureBlock.single)
        let signature = try signer.sign(Transcript.signedDigest(t))
        try sink.write(SignatureBlock(payloadLength: summary.payloadLength, signature: signature).bytes)
        return summary
    }

    /// Everything but the trailer: header and chunks written, the transcript open.
    func sealBody(
        from source: inout some ByteSource, to sink: inout some ByteSink, name: String,
        kind: EnvelopeKind, mediaType: String?, now: Date
    ) throws -> (SealSummary, Transcript) {
        // §2: one name, one byte form.
        let name = EnvelopeHeader.normalizedName(name)
        if let broken = EnvelopeHeader.nameRuleBroken(name) { throw EnvelopeError.unusableName(name: name, reason: broken) }
        let current = try source.read(exactly: chunkSize, orShortAtEnd: ())
        let media: MediaType
        switch kind {
        case .image:
            guard let detected = MediaType.detect(current) else { throw EnvelopeError.unrecognisedMedia }
            media = unsafeMediaType.map { MediaType(name: $0, width: 0, height: 0) } ?? detected
        case .message:
            guard let mediaType else { throw EnvelopeError.malformed("a message needs a media type") }
            media = MediaType(name: mediaType, width: 0, height: 0)
        }

        let envelopeID = Random.bytes(count: 16)
        if let batchKey {
            precondition(batchKey.recipient == recipient.fingerprint && batchKey.sender == signer.certificate,
                         "a batch key serves one sender and one recipient")
        }
        let contentKey = batchKey?.contentKey(envelopeID: envelopeID) ?? SecretBytes(randomCount: unsafeContentKeyLength)
        var header = EnvelopeHeader(
            kind: kind, suite: suite, envelopeID: envelopeID,
            created: UInt64((now.timeIntervalSince1970 * 1000).rounded()), chunkSize: chunkSize,
            recipient: recipient.fingerprint, keyCommitment: KeySchedule.commitment(for: contentKey),
            name: name, mediaType: media.name, width: media.width, height: media.height,
            // header_length, inside the fields, counts the wrapped key: reserve its length.
            senderCertificate: signer.certificate, wrappedKey: [UInt8](repeating: 0, count: recipient.wrappedKeyLength),
            keyMode: batchKey == nil ? .single : .batch)
        try header.validate()
        let fieldsDigest = KeySchedule.fieldsDigest(header.fields)
        header.wrappedKey = try batchKey?.wrapped ?? recipient.wrap(contentKey, label: fieldsDigest)
        precondition(header.wrappedKey.count == recipient.wrappedKeyLength)
        let cipher = ChunkCiphers.make(suite, keys: KeySchedule(contentKey: contentKey, fieldsDigest: fieldsDigest))

        let headerBytes = header.bytes
        try sink.write(headerBytes)
        var transcript = Transcript(header: headerBytes)
        var total: UInt64 = 0
        // Chunks are independent (own IV or nonce, own tag): each is encrypted and MACed on
        // a worker while this thread reads the next and frames and writes the ones before.
        var chunks = OrderedWork<SealedChunk>(workers: chunkWorkers) { $0.seal(with: cipher) }
        func writeOut(_ chunk: SealedChunk) throws {
            if let unread = chunk.unread { throw unread }
            let flag = ChunkCiphers.flag(chunk.final)
            transcript.add(chunkFlag: flag, length: chunk.bytes.count, commitment: chunk.commitment)
            var frame = ByteWriter()
            frame.u8(flag)
            frame.u32(UInt32(chunk.bytes.count))
            try sink.write(frame.bytes)
            try sink.write(chunk.bytes)
            try sink.write(chunk.tag)
        }
        // After the first chunk (read here, for its media type), a file's chunks are read by
        // the workers; this thread only moves past them, to tell which is the final one.
        var index: UInt64 = 0
        var pending = LaterBytes(current)
        func following(_ chunk: LaterBytes) throws -> LaterBytes {
            chunk.count == chunkSize ? try source.readLater(upTo: chunkSize) : LaterBytes([])
        }
        var next = try following(pending)
        while true {
            let final = next.count == 0
            total += UInt64(pending.count)
            if let sealed = chunks.submit(SealedChunk(pending, index: index, final: final)) { try writeOut(sealed) }
            if final { break }
            index += 1
            pending = next
            next = try following(pending)
        }
        while let sealed = chunks.next() { try writeOut(sealed) }
        return (SealSummary(envelopeID: header.envelopeID, payloadLength: total, mediaType: media.name,
                            width: media.width, height: media.height), transcript)
    }
}

/// One chunk in flight: read, sealed in place by one worker, then written by the sealer.
final class SealedChunk: @unchecked Sendable {
    // Mutated by exactly one worker between creation and the write-out.
    private let plaintext: LaterBytes
    var bytes: [UInt8] = []
    var tag: [UInt8] = []
    var commitment: [UInt8] = []
    /// Why the plaintext could not be read (the file changed while it was sealed).
    var unread: Error?
    let index: UInt64
    let final: Bool

    init(_ plaintext: LaterBytes, index: UInt64, final: Bool) {
        self.plaintext = plaintext
        self.index = index
        self.final = final
    }

    /// Reads, encrypts and tags the chunk, and computes its commitment (§4), all on this worker.
    func seal(with cipher: any ChunkCipher) {
        do { bytes = try plaintext.read() } catch {
            unread = error
            return
        }
        tag = cipher.seal(&bytes, index: index, final: final)
        commitment = cipher.commitment(ciphertext: bytes, tag: tag)
    }
}
