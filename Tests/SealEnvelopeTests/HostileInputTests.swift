import Foundation
import GcryptKit
import SealPKI
import Testing
@testable import SealEnvelope

/// Inputs that once trapped the Swift runtime or were accepted against FORMAT.md: each must
/// now be one clean error.
@Suite struct HostileInputTests {
    /// §6: a payload_length of 2^64-1 was held as a length (inspect trapped converting it).
    @Test(arguments: [UInt64.max, UInt64(Int64.max), 1 << 40, 0])
    func payloadLengthMustMatchTheChunks(claimed: UInt64) throws {
        var envelope = try sealInMemory(pattern(70_000))
        // Single-signature trailer: u64 payload_length, u8 type, u16 length, 256-byte signature.
        let offset = envelope.count - 256 - 2 - 1 - 8
        envelope.replaceSubrange(offset..<offset + 8, with: claimed.bigEndianBytes)
        var source = MemorySource(envelope)
        #expect(throws: EnvelopeError.self) { _ = try EnvelopeReader.layout(of: &source) }
        do {
            var again = MemorySource(envelope)
            _ = try EnvelopeReader.layout(of: &again)
        } catch let error as EnvelopeError {
            guard case .malformed = error else { Issue.record("expected malformed, got \(error)"); return }
        }
    }

    /// The true payload length still passes the check, for both suites and at chunk edges.
    @Test(arguments: [0, 1, 15, 16, 17, 65_536, 65_537, 131_072])
    func exactLengthsStillOpen(count: Int) throws {
        for suite in Suite.allCases {
            let payload = pattern(count)
            #expect(try openInMemory(sealInMemory(payload, suite: suite)) == payload)
        }
    }

    /// §5: a content key of any length but 32 is refused, with the error a failed unwrap gives,
    /// even when its commitment matches.
    @Test(arguments: [1, 16, 31, 33, 190])
    func contentKeysAreExactly32Bytes(length: Int) throws {
        var sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey), chunkSize: 1 << 16)
        sealer.unsafeContentKeyLength = length
        var source = MemorySource(pattern(1000))
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "k", kind: .message, mediaType: "application/octet-stream")
        #expect(throws: EnvelopeError.tampered) { _ = try openInMemory(sink.bytes) }
        var header = MemorySource(sink.bytes)
        let verified = try EnvelopeReader.verify(&header, recipient: World.server.fingerprint, authority: World.authority.certificate)
        #expect(throws: EnvelopeError.tampered) { _ = try EnvelopeReader.contentKey(of: verified.header, identity: World.server) }
    }

    @Test func a250ByteContentKeyIsRefused() throws {
        let big = RSAIdentity(key: try RSA.PrivateKey.generate(size: .bits3072))
        var sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: big.key.publicKey), chunkSize: 1 << 16)
        sealer.unsafeContentKeyLength = 250
        var source = MemorySource(pattern(10))
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "k", kind: .message, mediaType: "application/octet-stream")
        #expect(throws: EnvelopeError.tampered) { _ = try openInMemory(sink.bytes, identity: big) }
    }
}
