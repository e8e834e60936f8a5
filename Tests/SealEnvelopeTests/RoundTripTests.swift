import Foundation
import GcryptKit
import Testing
@testable import SealEnvelope

@Suite struct RoundTripTests {
    static let chunk = 1 << 16
    static let sizes = [0, 1, 15, 16, 17, 31, 32, 33, chunk - 17, chunk - 16, chunk - 1, chunk, chunk + 1, chunk + 15,
                        chunk + 16, 2 * chunk - 1, 2 * chunk, 2 * chunk + 1, 3 * chunk + 100]

    @Test(arguments: Suite.allCases, sizes)
    func roundTrip(suite: Suite, size: Int) throws {
        let payload = pattern(size, seed: UInt8(truncatingIfNeeded: size))
        let envelope = try sealInMemory(payload, suite: suite, chunkSize: Self.chunk)
        #expect(try openInMemory(envelope) == payload)
        #expect(try openInMemory(sealInMemory(payload, suite: suite, chunkSize: Self.chunk, fromFile: true)) == payload)
        var source = MemorySource(envelope)
        let layout = try EnvelopeReader.layout(of: &source)
        #expect(layout.payloadLength == UInt64(size))
        #expect(layout.chunkCount == max(1, (size + Self.chunk - 1) / Self.chunk))
        #expect(layout.header.suite == suite)
    }

    /// Chunks sealed by any number of workers overlapping the reads and writes come out in
    /// order: the same framing, and the same payload back.
    @Test(arguments: Suite.allCases, [1, 2, 3, 8])
    func anyNumberOfChunkWorkersKeepsTheOrder(suite: Suite, workers: Int) throws {
        let payload = pattern(10 * Self.chunk + 77, seed: UInt8(workers))
        var sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey), suite: suite,
                                    chunkSize: Self.chunk)
        sealer.chunkWorkers = workers
        var source = MemorySource(payload)
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "payload", kind: .message, mediaType: "application/octet-stream")
        #expect(try openInMemory(sink.bytes) == payload)
        var layout = MemorySource(sink.bytes)
        #expect(try EnvelopeReader.layout(of: &layout).chunkCount == 11)
    }

    /// Ten chunks of a pattern, sealed to the server, and the envelope's first pass.
    func tenChunksVerified(suite: Suite, seed: UInt8) throws -> (payload: [UInt8], envelope: [UInt8], verified: VerifiedEnvelope) {
        let payload = pattern(10 * Self.chunk, seed: seed)
        let envelope = try sealInMemory(payload, suite: suite, chunkSize: Self.chunk)
        var first = MemorySource(envelope)
        return (payload, envelope, try EnvelopeReader.verify(&first, recipient: World.server.fingerprint, authority: World.authority.certificate))
    }

    /// `envelope` with chunk 6 re-encrypted under its own content key (0x2a bytes), as its
    /// sender or the server could: its tag checks. Also that chunk's cipher, ciphertext and tag.
    func reencryptingChunkSix(
        of envelope: [UInt8], _ verified: VerifiedEnvelope
    ) throws -> (envelope: [UInt8], cipher: any ChunkCipher, ciphertext: [UInt8], tag: [UInt8]) {
        let header = verified.header
        let contentKey = try EnvelopeReader.contentKey(of: header, identity: World.server)
        let cipher = ChunkCiphers.make(header.suite, keys: KeySchedule(contentKey: contentKey, fieldsDigest: KeySchedule.fieldsDigest(header.fields)))
        var forged = [UInt8](repeating: 0x2a, count: Self.chunk)
        let tag = cipher.seal(&forged, index: 6, final: false)
        let frame = 5 + Self.chunk + header.suite.tagLength
        let start = header.bytes.count + 6 * frame + 5
        var changed = envelope
        changed.replaceSubrange(start..<start + frame - 5, with: forged + tag)
        return (changed, cipher, forged, tag)
    }

    /// An envelope changed after it was verified (the file replaced between the two passes):
    /// decryption stops at the changed chunk, having released every chunk before it, in
    /// order, and nothing of it or after it, however many chunks were in flight.
    @Test(arguments: Suite.allCases)
    func aChunkChangedAfterVerifyingStopsTheOutputThere(suite: Suite) throws {
        let (payload, envelope, verified) = try tenChunksVerified(suite: suite, seed: 9)
        let headerLength = verified.header.bytes.count
        let frame = 5 + Self.chunk + suite.tagLength
        var changed = envelope
        changed[headerLength + 6 * frame + 5 + 100] ^= 0x40
        var source = MemorySource(changed)
        var sink = MemorySink()
        #expect(throws: EnvelopeError.tampered) {
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: World.server)
        }
        #expect(sink.bytes == Array(payload.prefix(6 * Self.chunk)))
    }

    /// Whoever knows the content key (the sender, the server) can re-encrypt a chunk with a
    /// valid tag. Changed between the two passes, such a chunk passes its tag check: the
    /// check against the first pass stops it before a byte of it is released. Beyond the
    /// checks' number the recomputed transcript still refuses it, at the end.
    @Test(arguments: Suite.allCases)
    func aChunkReencryptedWithTheContentKeyIsNeverReleased(suite: Suite) throws {
        let (payload, envelope, verified) = try tenChunksVerified(suite: suite, seed: 5)
        #expect(verified.checks?.count == 10)
        let header = verified.header
        let (changed, cipher, forged, tag) = try reencryptingChunkSix(of: envelope, verified)
        let frame = 5 + Self.chunk + suite.tagLength
        // The forged chunk itself is sound: its tag checks with the content key.
        var reopened = forged
        try cipher.open(&reopened, tag: tag, index: 6, final: false)
        #expect(reopened == [UInt8](repeating: 0x2a, count: Self.chunk))
        var source = MemorySource(changed)
        var sink = MemorySink()
        #expect(throws: EnvelopeError.tampered) {
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: World.server)
        }
        #expect(sink.bytes.count == 6 * Self.chunk && sink.bytes.elementsEqual(payload.prefix(6 * Self.chunk)))
        let unchecked = VerifiedEnvelope(header: header, payloadLength: verified.payloadLength, chunkCount: verified.chunkCount,
                                         transcript: verified.transcript, signatureType: verified.signatureType, checks: nil)
        source = MemorySource(changed)
        sink = MemorySink()
        #expect(throws: EnvelopeError.tampered) {
            try EnvelopeReader.decrypt(unchecked, from: &source, to: &sink, identity: World.server)
        }
        // Without checks, a stream is refused before a byte is written: only the end would tell.
        source = MemorySource(envelope)
        var stream = ReleasingSink()
        #expect(throws: EnvelopeError.self) {
            try EnvelopeReader.decrypt(unchecked, from: &source, to: &stream, identity: World.server)
        }
        #expect(stream.bytes.isEmpty)
        source = MemorySource(envelope)
        try EnvelopeReader.decrypt(verified, from: &source, to: &stream, identity: World.server)
        #expect(stream.bytes.elementsEqual(payload))
        // A chunk moved to another place, or one more or one fewer, is refused too.
        let chunks = (0..<10).map { Array(envelope[header.bytes.count + $0 * frame..<header.bytes.count + ($0 + 1) * frame]) }
        let trailer = Array(envelope[(header.bytes.count + 10 * frame)...])
        for reordered in [[0, 1, 2, 4, 3, 5, 6, 7, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 8, 9], [0, 1, 2, 3, 4, 5, 6, 7, 9]] {
            source = MemorySource(header.bytes + reordered.flatMap { chunks[$0] } + trailer)
            var discard = MemorySink()
            #expect(throws: (any Error).self) {
                try EnvelopeReader.decrypt(verified, from: &source, to: &discard, identity: World.server)
            }
        }
        source = MemorySource(envelope)
        sink = MemorySink()
        try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: World.server)
        #expect(sink.bytes.elementsEqual(payload))
    }

    /// From a file, chunks are read by the workers at their positions (pread): the framing
    /// is still read in order, a chunk changed between the passes is still never released,
    /// and a file cut short, in either pass, is told as truncated.
    @Test(arguments: Suite.allCases)
    func aFileReadAtPositionsIsCheckedAsOneReadInOrder(suite: Suite) throws {
        let payload = pattern(10 * Self.chunk + 123, seed: 7)
        let envelope = try sealInMemory(payload, suite: suite, chunkSize: Self.chunk)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("positions-\(UUID().uuidString).seal").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func write(_ bytes: [UInt8]) { #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes))) }
        func verifyFile() throws -> VerifiedEnvelope {
            var source = try FileSource(path: path)
            return try EnvelopeReader.verify(&source, recipient: World.server.fingerprint, authority: World.authority.certificate)
        }
        func decryptFile(_ verified: VerifiedEnvelope) throws -> (released: [UInt8], error: Error?) {
            var source = try FileSource(path: path)
            var sink = MemorySink()
            do {
                try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: World.server)
                return (sink.bytes, nil)
            } catch {
                return (sink.bytes, error)
            }
        }
        write(envelope)
        // Bytes read later are read from the file when asked for, at their position.
        var probe = try FileSource(path: path)
        let later = try probe.readLater(upTo: 4)
        #expect(try probe.read(upTo: 4) == Array(envelope[4..<8]))
        let fd = open(path, O_WRONLY)
        #expect(pwrite(fd, [UInt8](repeating: 9, count: 4), 4, 0) == 4)
        close(fd)
        let rewritten = try later.read()
        #expect(rewritten == [9, 9, 9, 9])
        write(envelope)
        let verified = try verifyFile()
        #expect(verified.chunkCount == 11)
        let whole = try decryptFile(verified)
        #expect(whole.error == nil)
        #expect(whole.released.elementsEqual(payload))

        let header = verified.header
        let frame = 5 + Self.chunk + suite.tagLength
        // Chunk 6 re-encrypted with the content key (its tag checks) after the first pass.
        write(try reencryptingChunkSix(of: envelope, verified).envelope)
        let forgedRun = try decryptFile(verified)
        #expect(forgedRun.error as? EnvelopeError == .tampered)
        #expect(forgedRun.released.elementsEqual(payload.prefix(6 * Self.chunk)))

        // Cut inside chunk 8's ciphertext: the second pass stops there, the first refuses it.
        write(Array(envelope.prefix(header.bytes.count + 8 * frame + 5 + 100)))
        let cutRun = try decryptFile(verified)
        #expect(cutRun.error as? EnvelopeError == .truncated)
        #expect(cutRun.released.elementsEqual(payload.prefix(cutRun.released.count)))
        #expect(cutRun.released.count <= 8 * Self.chunk)
        #expect(throws: EnvelopeError.truncated) { try verifyFile() }
    }

    /// A chunk whose worker finds its bytes gone (the file cut short after the framing was
    /// read past them) stops either pass with that error, releasing nothing of it.
    @Test(arguments: Suite.allCases)
    func aChunkItsWorkerCannotReadStopsEitherPass(suite: Suite) throws {
        let (payload, envelope, verified) = try tenChunksVerified(suite: suite, seed: 3)
        var sink = MemorySink()
        // The sixth ciphertext read later is gone by the time its worker reads it.
        var source = VanishingSource(base: MemorySource(envelope))
        #expect(throws: EnvelopeError.truncated) {
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: World.server)
        }
        #expect(sink.bytes.elementsEqual(payload.prefix(5 * Self.chunk)))
        // The first pass reads gcm ciphertexts (to hash them); cbc-hmac's it skips.
        source = VanishingSource(base: MemorySource(envelope))
        if suite == .gcm {
            #expect(throws: EnvelopeError.truncated) {
                try EnvelopeReader.verify(&source, recipient: World.server.fingerprint, authority: World.authority.certificate)
            }
        } else {
            _ = try EnvelopeReader.verify(&source, recipient: World.server.fingerprint, authority: World.authority.certificate)
            #expect(source.laterReads == 0)
        }
    }

    /// Sealing stops at a chunk its worker cannot read (the file cut short after it was
    /// read past), with that error, having written nothing of that chunk.
    @Test(arguments: Suite.allCases)
    func aChunkItsWorkerCannotReadStopsSealing(suite: Suite) throws {
        let sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey),
                                    suite: suite, chunkSize: Self.chunk)
        var source = VanishingSource(base: MemorySource(pattern(10 * Self.chunk, seed: 4)))
        var sink = MemorySink()
        #expect(throws: EnvelopeError.truncated) {
            try sealer.seal(from: &source, to: &sink, name: "payload", kind: .message, mediaType: "application/octet-stream")
        }
        // The first chunk is read at once (for its media type): the vanished one is chunk 6.
        var written = MemorySource(sink.bytes)
        let header = try EnvelopeHeader.read(from: &written)
        #expect(sink.bytes.count == header.bytes.count + 6 * (5 + Self.chunk + suite.tagLength))
    }

    @Test func freshKeyIdAndCiphertextEachTime() throws {
        let payload = pattern(100)
        let a = try sealInMemory(payload)
        let b = try sealInMemory(payload)
        #expect(a != b)
        var sa = MemorySource(a), sb = MemorySource(b)
        #expect(try EnvelopeReader.layout(of: &sa).header.envelopeID != EnvelopeReader.layout(of: &sb).header.envelopeID)
    }

    @Test func headerRecordsWhatWasSealed() throws {
        let before = Date()
        let envelope = try sealInMemory(pattern(10), name: "holiday.png")
        var source = MemorySource(envelope)
        let header = try EnvelopeReader.layout(of: &source).header
        #expect(header.name == "holiday.png")
        #expect(header.senderCertificate == World.alice.certificate)
        #expect(header.recipient == World.server.fingerprint)
        #expect(abs(header.createdDate.timeIntervalSince(before)) < 60)
        #expect(header.chunkSize == 1 << 16)
    }

    /// `verify` asks for the recipient's fingerprint only after the first pass, which needs no
    /// key, so that a key file can unlock meanwhile (`open`): an envelope cut short is told as
    /// truncated without asking for it, and a whole one then fails with the key's own error.
    @Test(arguments: Suite.allCases)
    func theRecipientIsAskedForAfterTheFirstPass(suite: Suite) throws {
        struct KeyFailed: Error {}
        var asked = 0
        func failingKey() throws -> [UInt8] {
            asked += 1
            throw KeyFailed()
        }
        let envelope = try sealInMemory(pattern(200_000), suite: suite)
        var cut = MemorySource(Array(envelope.dropLast(10)))
        #expect(throws: EnvelopeError.truncated) {
            try EnvelopeReader.verify(&cut, recipient: try failingKey(), authority: World.authority.certificate)
        }
        #expect(asked == 0)
        var whole = MemorySource(envelope)
        #expect(throws: KeyFailed.self) {
            try EnvelopeReader.verify(&whole, recipient: try failingKey(), authority: World.authority.certificate)
        }
        #expect(asked == 1)
    }

    /// `decrypt` makes the output's room before it asks for the key: a full disk is told
    /// before any work.
    @Test func theOutputsRoomIsMadeBeforeTheKeyIsAskedFor() throws {
        let payload = pattern(300_000)
        let envelope = try sealInMemory(payload)
        var source = MemorySource(envelope)
        let verified = try EnvelopeReader.verify(&source, recipient: World.server.fingerprint, authority: World.authority.certificate)
        let log = Locked([String]())
        var sink = RecordingSink(log: log)
        var second = MemorySource(envelope)
        try EnvelopeReader.decrypt(verified, from: &second, to: &sink, identity: RecordingIdentity(log: log))
        #expect(log.withLock { $0 } == ["reserve 300000", "unwrap"])
        #expect(sink.bytes == payload)
    }

    /// The payload's SHA-256 appears nowhere in the envelope, nor does the plaintext.
    @Test func noPlaintextOrItsHashInTheClear() throws {
        let payload = pattern(5000)
        for suite in Suite.allCases {
            let envelope = try sealInMemory(payload, suite: suite)
            let digest = SHA256.hash(data: payload).bytes
            #expect(!contains(envelope, digest))
            #expect(!contains(envelope, Array(payload[1000..<1032])))
        }
    }

    func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if Array(haystack[i..<i + needle.count]) == needle { return true }
        }
        return false
    }
}

/// A sink standing for a stream: what is written is out of reach at once.
struct ReleasingSink: ByteSink {
    private(set) var bytes: [UInt8] = []
    var releasesAsWritten: Bool { true }
    mutating func write(_ bytes: [UInt8]) throws { self.bytes += bytes }
}

/// A sink that logs what room it is asked to make.
struct RecordingSink: ByteSink {
    let log: Locked<[String]>
    private(set) var bytes: [UInt8] = []
    mutating func write(_ bytes: [UInt8]) throws { self.bytes += bytes }
    mutating func reserve(_ byteCount: UInt64) throws { log.withLock { $0.append("reserve \(byteCount)") } }
}

/// The server's key, logging each unwrap.
struct RecordingIdentity: Identity {
    let log: Locked<[String]>
    var fingerprint: [UInt8] { World.server.fingerprint }
    var wrappedKeyLength: Int { World.server.wrappedKeyLength }
    func unwrap(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes {
        log.withLock { $0.append("unwrap") }
        return try World.server.unwrap(wrapped, label: label)
    }
}

/// A source whose sixth bytes read later are gone when they are read (a file cut short
/// after they were read past).
struct VanishingSource: ByteSource {
    var base: MemorySource
    var laterReads = 0
    mutating func read(upTo count: Int) throws -> [UInt8] { try base.read(upTo: count) }
    mutating func skip(_ count: Int) throws -> Int { try base.skip(count) }
    mutating func readLater(upTo count: Int) throws -> LaterBytes {
        laterReads += 1
        let bytes = try base.read(exactly: count, orShortAtEnd: ())
        return laterReads == 6 ? LaterBytes(count: bytes.count) { throw EnvelopeError.truncated } : LaterBytes(bytes)
    }
}
