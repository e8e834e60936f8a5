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
        let contentKey = try EnvelopeReader.contentKey(of: header, identity: World.server)
        let cipher = ChunkCiphers.make(suite, keys: KeySchedule(contentKey: contentKey, fieldsDigest: KeySchedule.fieldsDigest(header.fields)))
        var forged = [UInt8](repeating: 0x2a, count: Self.chunk)
        let tag = cipher.seal(&forged, index: 6, final: false)
        let frame = 5 + Self.chunk + suite.tagLength
        let start = header.bytes.count + 6 * frame + 5
        var changed = envelope
        changed.replaceSubrange(start..<start + frame - 5, with: forged + tag)
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
