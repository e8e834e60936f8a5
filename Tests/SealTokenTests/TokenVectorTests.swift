import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
import SealToken

/// fixtures/envelopes opened with bob's key moved onto a token: every vector has the outcome
/// it has with the key file, and an envelope sealed by a token key opens with the file key.
@Suite struct TokenVectorTests {
    struct Manifest: Decodable {
        struct Vector: Decodable {
            let file: String
            let expect: String
            let sha256: String?
        }
        let verify_at: Double
        let vectors: [Vector]
    }

    static let directory = fixturesDirectory.appendingPathComponent("envelopes")
    static let passphrase = SecretBytes(Array("sealdrop test vectors".utf8))

    @Test func theVectorsOpenTheSameWithTheKeyOnAToken() throws {
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.directory.appendingPathComponent("vectors.json")))
        let fileKey = try KeyFile.readPrivateKey(at: Self.directory.appendingPathComponent("keys/bob.key").path, passphrase: Self.passphrase)
        let tokenKey = try TokenKey.importKey(fileKey, to: SoftHSM.token("vectors"), label: "bob", usage: .signAndDecrypt)
        let authority = try Certificate(pem: KeyFile.readText(Self.directory.appendingPathComponent("keys/ca.crt").path))
        let now = Date(timeIntervalSince1970: manifest.verify_at)

        /// The plaintext's SHA-256, or the error, as text.
        func open(_ bytes: [UInt8], with identity: RSAIdentity) -> String {
            do {
                var source = MemorySource(bytes)
                let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority, now: now)
                var again = MemorySource(bytes)
                var sink = MemorySink()
                try EnvelopeReader.decrypt(verified, from: &again, to: &sink, identity: identity)
                return SHA256.hash(data: sink.bytes).hex
            } catch {
                return "error: \(error)"
            }
        }
        var opened = 0
        for vector in manifest.vectors {
            let bytes = try [UInt8](Data(contentsOf: Self.directory.appendingPathComponent(vector.file)))
            let withFile = open(bytes, with: RSAIdentity(key: fileKey))
            let withToken = open(bytes, with: RSAIdentity(key: tokenKey))
            #expect(withToken == withFile, "\(vector.file)")
            if vector.expect == "success" {
                #expect(withToken == vector.sha256, "\(vector.file)")
                opened += 1
            }
        }
        #expect(opened >= 4)
    }

    @Test func whatATokenKeySealsAFileKeyOpens() throws {
        let fileKey = try KeyFile.readPrivateKey(at: Self.directory.appendingPathComponent("keys/bob.key").path, passphrase: Self.passphrase)
        let token = try SoftHSM.token("vectors")
        let authorityKey = try TokenKey.generate(on: token, label: "vector-ca", usage: .sign, size: .bits2048)
        let authority = try CertificateAuthority.create(key: authorityKey)
        let senderKey = try TokenKey.generate(on: token, label: "vector-sender", usage: .signAndDecrypt, size: .bits2048)
        let signer = try RSASigner(key: senderKey, certificate: authority.issue(commonName: "alice", publicKey: senderKey.publicKey, profile: .user))
        let images = fixturesDirectory.appendingPathComponent("images")
        let first = try #require(try FileManager.default.contentsOfDirectory(atPath: images.path).sorted().first { $0.hasSuffix(".png") })
        let image = try [UInt8](Data(contentsOf: images.appendingPathComponent(first)))
        for suite in [Suite.cbcHMAC, .gcm] {
            let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: fileKey.publicKey), suite: suite)
            var source = MemorySource(image)
            var sink = MemorySink()
            _ = try sealer.seal(from: &source, to: &sink, name: "token.png")
            var reading = MemorySource(sink.bytes)
            let verified = try EnvelopeReader.verify(&reading, recipient: fileKey.publicKey.fingerprint.digest.bytes, authority: authority.certificate)
            #expect(verified.header.senderCertificate.der == signer.certificate.der)
            var again = MemorySource(sink.bytes)
            var plain = MemorySink()
            try EnvelopeReader.decrypt(verified, from: &again, to: &plain, identity: RSAIdentity(key: fileKey))
            #expect(plain.bytes == image)
        }
    }
}
