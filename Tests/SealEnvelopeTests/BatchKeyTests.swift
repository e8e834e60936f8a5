import Foundation
import GcryptKit
import SealPKI
import Testing
@testable import SealEnvelope

/// Batch keys (FORMAT.md §5.1): one wrap for many envelopes, each still opening alone, one
/// envelope's key opening no other, one unwrap per batch at the recipient.
struct BatchKeyTests {
    func batch(_ count: Int, signer: RSASigner = World.alice, suite: Suite = .cbcHMAC) throws -> [[UInt8]] {
        var sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: World.server.key.publicKey), suite: suite,
                                    chunkSize: 1 << 16)
        sealer.batchKey = try BatchKey(recipient: sealer.recipient, sender: signer.certificate)
        return try (0..<count).map { i in
            var source = MemorySource(pattern(70_000 + i, seed: UInt8(i)))
            var sink = MemorySink()
            _ = try sealer.seal(from: &source, to: &sink, name: "m\(i)", kind: .message, mediaType: "application/octet-stream")
            return sink.bytes
        }
    }

    func header(_ envelope: [UInt8]) throws -> EnvelopeHeader {
        var source = MemorySource(envelope)
        return try EnvelopeHeader.read(from: &source)
    }

    @Test(arguments: Suite.allCases)
    func eachEnvelopeOpensAloneInAnyOrder(suite: Suite) throws {
        let envelopes = try batch(6, suite: suite)
        let headers = try envelopes.map(header)
        #expect(headers.allSatisfy { $0.keyMode == .batch })
        #expect(Set(headers.map(\.wrappedKey)).count == 1, "one wrapped key for the batch")
        #expect(Set(headers.map(\.keyCommitment)).count == 6, "a content key per envelope")
        for index in [3, 0, 5, 1, 4, 2] {
            // A fresh identity each time: nothing remembered from the others.
            #expect(try openInMemory(envelopes[index], identity: RSAIdentity(key: World.server.key))
                == pattern(70_000 + index, seed: UInt8(index)))
        }
    }

    @Test func oneUnwrapPerBatchEvenFromManyThreads() throws {
        let cache = BatchKeyCache(World.server)
        let first = try batch(8), second = try batch(3)
        for envelope in first { _ = try openWithIdentity(envelope, cache) }
        #expect(cache.batchUnwraps == 1)
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: second.count) { i in
            do { _ = try openWithIdentity(second[i], cache) } catch { failures.add(error) }
        }
        #expect(failures.count == 0)
        #expect(cache.batchUnwraps == 2, "the second batch, opened on several threads at once, cost one unwrap")
        // Single envelopes are never remembered.
        _ = try openWithIdentity(try sealInMemory(pattern(100)), cache)
        #expect(cache.batchUnwraps == 2)
    }

    @Test func oneEnvelopesKeyOpensNoOther() throws {
        let envelopes = try batch(2)
        let key0 = try EnvelopeReader.contentKey(of: try header(envelopes[0]), identity: World.server)
        var source = MemorySource(envelopes[1])
        let verified = try EnvelopeReader.verify(&source, recipient: World.server.fingerprint, authority: World.authority.certificate)
        var again = MemorySource(envelopes[1])
        var sink = MemorySink()
        #expect(throws: EnvelopeError.tampered) {
            try EnvelopeReader.decrypt(verified, from: &again, to: &sink, contentKey: key0)
        }
        #expect(sink.bytes.isEmpty)
    }

    @Test func aBatchKeyIsBoundToItsSender() throws {
        let alices = try header(try batch(1)[0])
        let label = { (sender: Certificate) in KeySchedule.batchLabel(recipient: alices.recipient, sender: sender) }
        let cache = BatchKeyCache(World.server)
        _ = try cache.unwrapBatchKey(alices.wrappedKey, label: label(World.alice.certificate))
        // The same wrapped bytes in bob's envelope: another label, so no key, cached or not.
        #expect(throws: EnvelopeError.tampered) { try cache.unwrapBatchKey(alices.wrappedKey, label: label(World.bob.certificate)) }
        #expect(throws: EnvelopeError.tampered) { try World.server.unwrap(alices.wrappedKey, label: label(World.bob.certificate)) }
    }

    @Test func theKeyModeIsReadAndSigned() throws {
        var single = try sealInMemory(pattern(1000))
        #expect(try header(single).keyMode == .single)
        single[11] = 1  // claims a batch key: the label and the signature disagree
        #expect(throws: EnvelopeError.tampered) { try openInMemory(single) }
        single[11] = 2
        #expect(throws: EnvelopeError.malformed("unknown key mode")) { try openInMemory(single) }
        var batched = try batch(1)[0]
        batched[11] = 0
        #expect(throws: EnvelopeError.tampered) { try openInMemory(batched) }
    }

    func openWithIdentity(_ envelope: [UInt8], _ identity: any Identity) throws -> [UInt8] {
        var source = MemorySource(envelope)
        let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: World.authority.certificate)
        var second = MemorySource(envelope)
        var sink = MemorySink()
        try EnvelopeReader.decrypt(verified, from: &second, to: &sink, identity: identity)
        return sink.bytes
    }
}

/// Errors collected from concurrent work.
final class Failures: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var errors: [Error] = []
    func add(_ error: Error) { lock.withLock { errors.append(error) } }
    var count: Int { lock.withLock { errors.count } }
}
