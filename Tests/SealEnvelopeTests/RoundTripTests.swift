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

    /// An envelope changed after it was verified (the file replaced between the two passes):
    /// decryption stops at the changed chunk, having released every chunk before it, in
    /// order, and nothing of it or after it, however many chunks were in flight.
    @Test(arguments: Suite.allCases)
    func aChunkChangedAfterVerifyingStopsTheOutputThere(suite: Suite) throws {
        let payload = pattern(10 * Self.chunk, seed: 9)
        let envelope = try sealInMemory(payload, suite: suite, chunkSize: Self.chunk)
        var first = MemorySource(envelope)
        let verified = try EnvelopeReader.verify(&first, recipient: World.server.fingerprint, authority: World.authority.certificate)
        var probe = MemorySource(envelope)
        let headerLength = try EnvelopeReader.layout(of: &probe).header.bytes.count
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
