import Foundation
import GcryptKit
import SealPKI
import Testing
@testable import SealEnvelope

/// Every way of changing an envelope must fail, and say nothing about which check failed.
@Suite struct TamperTests {
    /// Each single bit of a small envelope, flipped in turn, makes opening fail.
    @Test(arguments: Suite.allCases)
    func everyBitFlipFails(suite: Suite) throws {
        let envelope = try sealInMemory(pattern(40), suite: suite)
        var accepted: [Int] = []
        for bit in 0..<(envelope.count * 8) {
            var bad = envelope
            bad[bit / 8] ^= 1 << (bit % 8)
            if (try? openInMemory(bad)) != nil { accepted.append(bit) }
        }
        #expect(accepted.isEmpty, "flipped bits accepted: \(accepted.prefix(20))")
    }

    /// Cutting the stream anywhere — every chunk boundary, and inside each part — fails.
    @Test(arguments: Suite.allCases)
    func truncationFails(suite: Suite) throws {
        let chunk = 1 << 16
        let envelope = try sealInMemory(pattern(3 * chunk - 5), suite: suite, chunkSize: chunk)
        var source = MemorySource(envelope)
        let header = try EnvelopeReader.layout(of: &source).header
        let frame = 5 + suite.tagLength
        var cuts = [0, 1, 15, header.bytes.count - 1, header.bytes.count]
        for i in 0..<3 {
            let start = header.bytes.count + i * (chunk + frame)
            cuts += [start, start + 3, start + 5, start + 5 + chunk / 2, start + chunk + 5, start + chunk + frame - 1]
        }
        cuts += [envelope.count - 300, envelope.count - 1]
        for cut in cuts where cut < envelope.count {
            #expect(throws: EnvelopeError.self, "cut at \(cut)") { try openInMemory(Array(envelope[..<cut])) }
        }
    }

    @Test func trailingDataFails() throws {
        let envelope = try sealInMemory(pattern(100))
        #expect(throws: EnvelopeError.trailingData) { try openInMemory(envelope + [0]) }
    }

    /// Swapping two full chunks keeps every frame valid but breaks their tags.
    @Test(arguments: Suite.allCases)
    func reorderedChunksFail(suite: Suite) throws {
        let chunk = 1 << 16
        let envelope = try sealInMemory(pattern(2 * chunk + 10), suite: suite, chunkSize: chunk)
        var source = MemorySource(envelope)
        let headerLength = try EnvelopeReader.layout(of: &source).header.bytes.count
        let frame = 5 + chunk + suite.tagLength
        let first = Array(envelope[headerLength..<headerLength + frame])
        let second = Array(envelope[headerLength + frame..<headerLength + 2 * frame])
        var swapped = envelope
        swapped.replaceSubrange(headerLength..<headerLength + 2 * frame, with: second + first)
        #expect(throws: EnvelopeError.tampered) { try openInMemory(swapped) }
    }

    @Test func wrongRecipientIsNamed() throws {
        let envelope = try sealInMemory(pattern(100), to: World.bobKey.publicKey)
        #expect(throws: EnvelopeError.self) { try openInMemory(envelope) }
        do {
            _ = try openInMemory(envelope)
        } catch EnvelopeError.notForThisKey(let recipient) {
            #expect(recipient == World.bobKey.publicKey.fingerprint.description)
        }
        // Bob, the real recipient, opens it.
        #expect(try openInMemory(envelope, identity: RSAIdentity(key: World.bobKey)) == pattern(100))
    }

    @Test func senderFromAnotherCAIsRefused() throws {
        let envelope = try sealInMemory(pattern(100))
        #expect {
            try openInMemory(envelope, authority: World.strangerAuthority.certificate)
        } throws: { error in
            if case EnvelopeError.untrustedSender = error { return true }
            return false
        }
    }

    /// Davis's attack: bob strips alice's signature and re-signs the envelope as his own.
    /// The signature then verifies (bob is a genuine user), but the header now names bob, so
    /// the OAEP label changes and the server cannot unwrap the key: the envelope is useless.
    @Test(arguments: Suite.allCases)
    func reSigningByAnotherUserFails(suite: Suite) throws {
        let envelope = try sealInMemory(pattern(500), suite: suite)
        let forged = try resign(envelope, as: World.bob)
        var source = MemorySource(forged)
        let verified = try EnvelopeReader.verify(&source, recipient: World.server.fingerprint, authority: World.authority.certificate)
        #expect(verified.header.senderCertificate == World.bob.certificate)
        #expect(throws: EnvelopeError.tampered) { try openInMemory(forged) }
    }

    /// Redirecting an envelope to another recipient (rewriting the recipient field) breaks
    /// the signature, since the recipient is signed.
    @Test func forwardingToAnotherRecipientFails() throws {
        let envelope = try sealInMemory(pattern(100))
        var source = MemorySource(envelope)
        var header = try EnvelopeReader.layout(of: &source).header
        let bobIdentity = RSAIdentity(key: World.bobKey)
        header.recipient = bobIdentity.fingerprint
        let forwarded = header.bytes + Array(envelope[header.bytes.count...])
        #expect(throws: EnvelopeError.tampered) { try openInMemory(forwarded, identity: bobIdentity) }
    }

    /// Rebuilds `envelope` with `signer`'s certificate in the header and a fresh signature.
    func resign(_ envelope: [UInt8], as signer: RSASigner) throws -> [UInt8] {
        var source = MemorySource(envelope)
        var header = try EnvelopeHeader.read(from: &source)
        let body = Array(envelope[header.bytes.count...])
        header.senderCertificate = signer.certificate
        var rebuilt = MemorySource(header.bytes + body)
        let (_, _, trailer, t, _) = try EnvelopeReader.walk(&rebuilt)
        let signature = try signer.sign(Transcript.signedDigest(t))
        let trailerLength = 11 + trailer.signature.count
        let chunks = Array(body[..<(body.count - trailerLength)])
        return header.bytes + chunks + SignatureBlock(payloadLength: trailer.payloadLength, signature: signature).bytes
    }
}
