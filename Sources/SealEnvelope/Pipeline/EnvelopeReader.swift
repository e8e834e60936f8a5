import Foundation
import GcryptKit
import SealPKI

/// An envelope whose sender and signature have been checked, and no key used yet.
public struct VerifiedEnvelope: Sendable {
    public let header: EnvelopeHeader
    public let payloadLength: UInt64
    public let chunkCount: Int
    /// The signed transcript T, to check a second pass against.
    let transcript: [UInt8]
    let signatureType: UInt8
    /// What the first pass saw of each chunk, to check the second against chunk by chunk.
    let checks: ChunkChecks?
}

/// What a first pass saw of each chunk, kept under a key of the reader's own (GMAC, a fresh
/// random key per verification, never written anywhere): its flag, length and tag, and for
/// gcm its ciphertext. The second pass computes the same over what it reads and compares
/// before it releases a byte of the chunk, so it never releases a chunk the signature was
/// not checked over, not even to standard output, and not even when whoever changed the
/// file between the passes knows the content key (the sender, the server): such a chunk
/// passes its tag check, and the transcript, recomputed, would only tell at the end. For gcm
/// this also spares the second pass hashing every chunk again (SHA-256 is several times
/// slower than GMAC here). A forged chunk passes only if its GMAC under a key the forger
/// never sees collides with the first one's: GHASH's bound, one in 2^128 per 16-byte block
/// of the chunk, is one in 2^108 for the largest chunk (16 MiB). Kept for up to
/// `maximumChunks` chunks (16 bytes each); past them a file is checked by its recomputed
/// transcript, at the end, and a stream is refused.
struct ChunkChecks: Sendable {
    static let maximumChunks = 1 << 18
    let key = SecretBytes(randomCount: GMAC.keyByteCount)
    private(set) var tags: [UInt8] = []

    var count: Int { tags.count / GMAC.tagByteCount }

    /// Chunk `index`'s check. A cbc-hmac chunk's ciphertext is left out: the second pass
    /// checks its tag with the content key, and HMAC binds the one to the other.
    static func tag(key: SecretBytes, index: Int, flag: UInt8, length: Int, ciphertext: [UInt8], tag: [UInt8]) -> [UInt8] {
        GMAC.tag(key: key, nonce: UInt64(index).bigEndianBytes + [0, 0, 0, 0], [flag] + UInt32(length).bigEndianBytes, ciphertext, tag)
    }

    mutating func append(_ check: [UInt8]) { tags += check }

    func matches(_ check: [UInt8], at index: Int) -> Bool {
        index < count && Memory.constantTimeEqual(check, tags[index * GMAC.tagByteCount..<(index + 1) * GMAC.tagByteCount])
    }
}

/// The structure of an envelope as `inspect` shows it: everything clear, nothing verified.
public struct EnvelopeLayout: Sendable {
    public let header: EnvelopeHeader
    public let chunkCount: Int
    public let payloadLength: UInt64
    public let signatureType: UInt8
    public let signatureLength: Int
}

/// Reads envelopes: walks the framing (§3, §6), checks the sender and signature without any
/// key (§7), then unwraps and decrypts chunk by chunk, each after its tag verified (§4).
public enum EnvelopeReader {
    /// Walks the whole envelope, computing the transcript (and with `checking`, each chunk's
    /// check for a second pass); no key and no trust involved. For cbc-hmac the ciphertext is
    /// skipped, not read.
    static func walk(
        _ source: inout some ByteSource, checking: Bool = false
    ) throws -> (EnvelopeHeader, Int, SignatureBlock, [UInt8], ChunkChecks?) {
        let header = try EnvelopeHeader.read(from: &source)
        let headerBytes = header.bytes
        var transcript = Transcript(header: headerBytes)
        let tagLength = header.suite.tagLength
        var chunks = 0
        var finalLength = 0
        // A gcm chunk's commitment is a hash of all of it: read (from a file) and hashed on a
        // worker while this thread reads the framing on. A cbc-hmac chunk's is its tag, and
        // its ciphertext is not read.
        var framed = OrderedWork<FramedChunk>(workers: header.suite == .gcm ? Cores.available : 1) { $0.commit() }
        var checks = checking ? ChunkChecks() : nil
        func record(_ done: FramedChunk) throws {
            if let unread = done.unread { throw unread }
            transcript.add(chunkFlag: done.flag, length: done.length, commitment: done.commitment)
            // Past their number an envelope keeps no checks (its second pass recomputes the transcript).
            if checks?.count == ChunkChecks.maximumChunks { checks = nil }
            checks?.append(done.check)
        }
        while true {
            let (flag, length) = try readFrame(&source, header: header, index: chunks)
            finalLength = length
            let chunk: FramedChunk
            let checkKey = checks?.key
            switch header.suite {
            case .cbcHMAC:
                guard try source.skip(length) == length else { throw EnvelopeError.truncated }
                chunk = FramedChunk(index: chunks, flag: flag, length: length, commitment: try source.read(exactly: tagLength, or: .truncated),
                                    checkKey: checkKey)
            case .gcm:
                let ciphertext = try source.readLater(exactly: length, or: .truncated)
                chunk = FramedChunk(index: chunks, flag: flag, length: length, ciphertext: ciphertext,
                                    tag: try source.read(exactly: tagLength, or: .truncated), checkKey: checkKey)
            }
            if let done = framed.submit(chunk) { try record(done) }
            chunks += 1
            if flag == 1 { break }
        }
        while let done = framed.next() { try record(done) }
        let trailer = try SignatureBlock.read(from: &source)
        try checkPayloadLength(trailer.payloadLength, header: header, chunks: chunks, finalLength: finalLength)
        return (header, chunks, trailer, transcript.finish(payloadLength: trailer.payloadLength, signatureType: trailer.signatureType), checks)
    }

    /// Reads and checks one chunk's flag and length (§3).
    static func readFrame(_ source: inout some ByteSource, header: EnvelopeHeader, index: Int) throws -> (UInt8, Int) {
        var frame = ByteReader(try source.read(exactly: 5, or: .truncated))
        let flag = try frame.u8()
        let length = Int(try frame.u32())
        guard flag <= 1 else { throw EnvelopeError.malformed("chunk \(index) has flag \(flag)") }
        guard index < Int(UInt32.max) else { throw EnvelopeError.malformed("too many chunks") }
        if flag == 0 {
            guard length == header.chunkSize else { throw EnvelopeError.malformed("chunk \(index) is not chunk_size long") }
        } else {
            switch header.suite {
            case .cbcHMAC:
                guard length > 0, length % AES.blockByteCount == 0, length <= header.chunkSize + AES.blockByteCount else {
                    throw EnvelopeError.malformed("final chunk length \(length)")
                }
            case .gcm:
                guard length <= header.chunkSize else { throw EnvelopeError.malformed("final chunk length \(length)") }
            }
        }
        return (flag, length)
    }

    /// §6: `payload_length` must be one the chunk lengths can decrypt to, so that no reader
    /// ever holds a length beyond the file's own size.
    static func checkPayloadLength(_ claimed: UInt64, header: EnvelopeHeader, chunks: Int, finalLength: Int) throws {
        // chunks < 2^32 and chunk_size <= 2^24 (§2, §3): the product fits in 64 bits.
        let whole = UInt64(chunks - 1) * UInt64(header.chunkSize)
        let range: ClosedRange<UInt64> = switch header.suite {
        case .gcm: (whole + UInt64(finalLength))...(whole + UInt64(finalLength))
        // PKCS#7 pads the final chunk with 1 to 16 bytes.
        case .cbcHMAC: (whole + UInt64(finalLength) - UInt64(AES.blockByteCount))...(whole + UInt64(finalLength) - 1)
        }
        guard range.contains(claimed) else {
            throw EnvelopeError.malformed("payload length \(claimed) does not match the chunk lengths")
        }
    }

    /// The clear structure, for `inspect`.
    public static func layout(of source: inout some ByteSource) throws -> EnvelopeLayout {
        let (header, chunks, trailer, _, _) = try walk(&source)
        return EnvelopeLayout(header: header, chunkCount: chunks, payloadLength: trailer.payloadLength,
                              signatureType: trailer.signatureType, signatureLength: trailer.signature.count)
    }

    /// Checks, with no private key: the recipient, the sender certificate against
    /// `authority` (valid at `now`, allowed to sign), and the signature over the transcript.
    /// The recipient's fingerprint is asked for after the first pass, which needs none: a
    /// key file can be unlocking meanwhile.
    public static func verify(
        _ source: inout some ByteSource, recipient: @autoclosure () throws -> [UInt8], authority: Certificate, now: Date = Date()
    ) throws -> VerifiedEnvelope {
        let (header, chunks, trailer, t, checks) = try walk(&source, checking: true)
        guard header.recipient == (try recipient()) else {
            throw EnvelopeError.notForThisKey(recipient: Fingerprint(digest: try! SHA256Digest(bytes: header.recipient)).description)
        }
        do {
            try header.senderCertificate.verify(issuedBy: authority, at: now, role: .user)
        } catch {
            throw EnvelopeError.untrustedSender("\(error)")
        }
        let key = header.senderCertificate.publicKey
        guard trailer.signature.count == key.byteCount,
              key.isValidPSSSignature(trailer.signature, for: trailer.signedDigest(transcript: t))
        else { throw EnvelopeError.tampered }
        return VerifiedEnvelope(header: header, payloadLength: trailer.payloadLength, chunkCount: chunks, transcript: t,
                                signatureType: trailer.signatureType, checks: checks)
    }

    /// Decrypts a verified envelope from the start of `source` into `sink`. Each chunk is
    /// checked against what the first pass saw of it (ChunkChecks; beyond their number, the
    /// transcript is recomputed and must equal the verified one at the end), and its tag is
    /// checked, before a byte of it is released: a file changed between the two passes is
    /// caught. The caller commits the sink only when this returns.
    public static func decrypt(
        _ verified: VerifiedEnvelope, from source: inout some ByteSource, to sink: inout some ByteSink,
        identity: any Identity
    ) throws {
        try decrypt(verified, from: &source, to: &sink) { try contentKey(of: verified.header, identity: identity) }
    }

    /// The content key wrapped in `header` for `identity`, checked against the key commitment.
    public static func contentKey(of header: EnvelopeHeader, identity: any Identity) throws -> SecretBytes {
        guard header.wrappedKey.count == (try identity.wrappedKeyLength) else { throw EnvelopeError.tampered }
        let key: SecretBytes
        switch header.keyMode {
        case .single:
            key = try identity.unwrap(header.wrappedKey, label: KeySchedule.fieldsDigest(header.fields))
        case .batch:
            // §5.1: the batch key, exactly 32 bytes, then this envelope's key from its id.
            let batchKey = try identity.unwrapBatchKey(
                header.wrappedKey, label: KeySchedule.batchLabel(recipient: header.recipient, sender: header.senderCertificate))
            guard batchKey.count == KeySchedule.contentKeyLength else { throw EnvelopeError.tampered }
            key = KeySchedule.batchContentKey(batchKey: batchKey, envelopeID: header.envelopeID)
        }
        // §5: K is exactly 32 bytes; any other length is the same error as a failed unwrap.
        guard key.count == KeySchedule.contentKeyLength, Memory.constantTimeEqual(KeySchedule.commitment(for: key), header.keyCommitment) else { throw EnvelopeError.tampered }
        return key
    }

    /// As `decrypt(_:from:to:identity:)`, with a content key obtained some other way (a fetch
    /// answer re-wraps it for the requester). The key must match the header's commitment.
    public static func decrypt(
        _ verified: VerifiedEnvelope, from source: inout some ByteSource, to sink: inout some ByteSink,
        contentKey: SecretBytes
    ) throws {
        try decrypt(verified, from: &source, to: &sink) { contentKey }
    }

    /// Both `decrypt`s. The output's room is made first (a full disk is told before the key is
    /// used or a chunk decrypted), and only then is the key asked for.
    private static func decrypt(
        _ verified: VerifiedEnvelope, from source: inout some ByteSource, to sink: inout some ByteSink,
        key: () throws -> SecretBytes
    ) throws {
        // Past the checks' number, only the transcript tells a changed chunk, at the end
        // (FORMAT.md §11): too late for an output released as it is written.
        if verified.checks == nil, sink.releasesAsWritten {
            throw EnvelopeError.malformed(
                "\(verified.chunkCount) chunks, too many to check one by one while streaming (at most \(ChunkChecks.maximumChunks)): "
                + "open it into a folder instead")
        }
        let header = try EnvelopeHeader.read(from: &source)
        guard header == verified.header else { throw EnvelopeError.tampered }
        let fieldsDigest = KeySchedule.fieldsDigest(header.fields)
        try sink.reserve(verified.payloadLength)
        let contentKey = try key()
        guard contentKey.count == KeySchedule.contentKeyLength,
              Memory.constantTimeEqual(KeySchedule.commitment(for: contentKey), header.keyCommitment) else {
            throw EnvelopeError.tampered
        }
        let cipher = ChunkCiphers.make(header.suite, keys: KeySchedule(contentKey: contentKey, fieldsDigest: fieldsDigest))
        var transcript = Transcript(header: header.bytes)
        var total: UInt64 = 0
        // Each chunk is read (from a file), checked and decrypted on a worker while this
        // thread reads the next one's framing and writes out the ones before, in order.
        let checks = verified.checks
        var chunks = OrderedWork<OpenedChunk>(workers: Cores.available) { $0.open(with: cipher, checkKey: checks?.key) }
        func writeOut(_ chunk: OpenedChunk) throws {
            if let unread = chunk.unread { throw unread }
            if let checks {
                guard checks.matches(chunk.check, at: chunk.index) else { throw EnvelopeError.tampered }
            } else {
                transcript.add(chunkFlag: chunk.flag, length: chunk.length, commitment: chunk.commitment)
            }
            if let failure = chunk.failure { throw failure }
            // An empty final chunk is only valid as the whole of an empty payload (§3).
            guard !(chunk.flag == 1 && chunk.bytes.isEmpty && chunk.index > 0) else { throw EnvelopeError.tampered }
            // §3: an image's first chunk (64 KiB or more, or all of it) starts with the
            // magic of its declared type; checked before a byte is released.
            if chunk.index == 0, header.kind == .image, MediaType.detect(chunk.bytes)?.name != header.mediaType {
                throw EnvelopeError.malformed("the content is not \(header.mediaType)")
            }
            total += UInt64(chunk.bytes.count)
            try sink.write(chunk.bytes)
        }
        var index = 0
        while true {
            let (flag, length) = try readFrame(&source, header: header, index: index)
            let ciphertext = try source.readLater(exactly: length, or: .truncated)
            let tag = try source.read(exactly: header.suite.tagLength, or: .truncated)
            if let opened = chunks.submit(OpenedChunk(ciphertext, tag: tag, index: index, flag: flag)) { try writeOut(opened) }
            index += 1
            if flag == 1 { break }
        }
        while let opened = chunks.next() { try writeOut(opened) }
        let trailer = try SignatureBlock.read(from: &source)
        let sameChunks = if checks != nil {
            // Every chunk was the first pass's, in its place: what is left of the transcript.
            index == verified.chunkCount && trailer.payloadLength == verified.payloadLength
                && trailer.signatureType == verified.signatureType
        } else {
            transcript.finish(payloadLength: trailer.payloadLength, signatureType: trailer.signatureType) == verified.transcript
        }
        guard sameChunks, total == trailer.payloadLength else { throw EnvelopeError.tampered }
    }
}

/// One chunk's framing as the walk reads it: its commitment given (cbc-hmac: the tag), or
/// computed by a worker from its ciphertext, which it reads, and tag (gcm, §4); and its
/// check, with a key.
final class FramedChunk: @unchecked Sendable {
    // `commitment`, `check`, `unread` and `hashed` are mutated only by `commit`, on one
    // worker, before the walk reads them.
    let index: Int
    let flag: UInt8
    let length: Int
    private(set) var commitment: [UInt8]
    private(set) var check: [UInt8] = []
    /// Why the ciphertext could not be read (the file changed under the walk).
    private(set) var unread: Error?
    private var hashed: (ciphertext: LaterBytes, tag: [UInt8])?
    private let checkKey: SecretBytes?

    init(index: Int, flag: UInt8, length: Int, commitment: [UInt8], checkKey: SecretBytes?) {
        (self.index, self.flag, self.length, self.commitment, self.checkKey) = (index, flag, length, commitment, checkKey)
    }

    init(index: Int, flag: UInt8, length: Int, ciphertext: LaterBytes, tag: [UInt8], checkKey: SecretBytes?) {
        (self.index, self.flag, self.length, self.checkKey) = (index, flag, length, checkKey)
        hashed = (ciphertext, tag)
        commitment = []
    }

    func commit() {
        if let (later, tag) = hashed {
            hashed = nil
            let ciphertext: [UInt8]
            do { ciphertext = try later.read() } catch {
                unread = error
                return
            }
            commitment = GCMCipher.commitment(ciphertext: ciphertext, tag: tag)
            if let checkKey { check = ChunkChecks.tag(key: checkKey, index: index, flag: flag, length: length, ciphertext: ciphertext, tag: tag) }
        } else if let checkKey {
            check = ChunkChecks.tag(key: checkKey, index: index, flag: flag, length: length, ciphertext: [], tag: commitment)
        }
    }
}

/// One chunk in flight while opening: read, checked and decrypted in place by one worker.
final class OpenedChunk: @unchecked Sendable {
    // Mutated by exactly one worker between creation and the write-out.
    private let ciphertext: LaterBytes
    var bytes: [UInt8] = []
    let tag: [UInt8]
    let index: Int
    let flag: UInt8
    let length: Int
    var commitment: [UInt8] = []
    var check: [UInt8] = []
    /// Why the ciphertext could not be read (the file changed since the first pass).
    var unread: Error?
    var failure: Error?

    init(_ ciphertext: LaterBytes, tag: [UInt8], index: Int, flag: UInt8) {
        self.ciphertext = ciphertext
        self.tag = tag
        self.index = index
        self.flag = flag
        length = ciphertext.count
    }

    /// Reads the ciphertext; then the check against the first pass (with its key), or else
    /// the commitment over the ciphertext; then the tag check and decryption (§4).
    func open(with cipher: any ChunkCipher, checkKey: SecretBytes?) {
        do { bytes = try ciphertext.read() } catch {
            unread = error
            return
        }
        if let checkKey {
            check = ChunkChecks.tag(key: checkKey, index: index, flag: flag, length: length,
                                    ciphertext: cipher is GCMCipher ? bytes : [], tag: tag)
        } else {
            commitment = cipher.commitment(ciphertext: bytes, tag: tag)
        }
        do {
            try cipher.open(&bytes, tag: tag, index: UInt64(index), final: flag == 1)
        } catch {
            failure = error
        }
    }
}
