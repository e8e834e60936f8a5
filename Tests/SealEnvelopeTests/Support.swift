import Foundation
import GcryptKit
import SealPKI
@testable import SealEnvelope

/// A CA, two users and a stranger CA, generated once per test process (2048-bit for speed).
enum World {
    static let caKey = try! RSA.PrivateKey.generate(size: .bits2048)
    static let authority = try! CertificateAuthority.create(key: caKey)
    static let aliceKey = try! RSA.PrivateKey.generate(size: .bits2048)
    static let bobKey = try! RSA.PrivateKey.generate(size: .bits2048)
    static let alice = try! RSASigner(key: aliceKey, certificate: authority.issue(commonName: "alice", publicKey: aliceKey.publicKey, profile: .user))
    static let bob = try! RSASigner(key: bobKey, certificate: authority.issue(commonName: "bob", publicKey: bobKey.publicKey, profile: .user))
    static let server = RSAIdentity(key: try! RSA.PrivateKey.generate(size: .bits2048))
    static let strangerAuthority = try! CertificateAuthority.create(key: bobKey)
}

let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

/// Deterministic bytes of any length (fast, not random).
func pattern(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: count)
    var x = UInt32(seed) &* 2_654_435_761
    for i in 0..<count {
        x = x &* 1_103_515_245 &+ 12345
        out[i] = UInt8(truncatingIfNeeded: x >> 16)
    }
    return out
}

/// Seals `payload` in memory from alice to the server; with `fromFile`, read from a file
/// holding it (whose chunks the workers read at their positions).
func sealInMemory(
    _ payload: [UInt8], suite: Suite = .cbcHMAC, chunkSize: Int = 1 << 16, kind: EnvelopeKind = .message,
    signer: RSASigner = World.alice, to recipient: RSA.PublicKey = World.server.key.publicKey, name: String = "payload",
    fromFile: Bool = false
) throws -> [UInt8] {
    let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: recipient), suite: suite, chunkSize: chunkSize)
    var sink = MemorySink()
    func seal(_ source: inout some ByteSource) throws {
        _ = try sealer.seal(from: &source, to: &sink, name: name, kind: kind,
                            mediaType: kind == .message ? "application/octet-stream" : nil)
    }
    if fromFile {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("payload-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        guard FileManager.default.createFile(atPath: path, contents: Data(payload)) else { throw IOFailure(call: "create", path: path, code: EIO) }
        var source = try FileSource(path: path)
        try seal(&source)
    } else {
        var source = MemorySource(payload)
        try seal(&source)
    }
    return sink.bytes
}

/// Opens an envelope held in memory the way `EnvelopeFiles.open` does: verify, then decrypt.
func openInMemory(
    _ envelope: [UInt8], identity: RSAIdentity = World.server, authority: Certificate = World.authority.certificate
) throws -> [UInt8] {
    var source = MemorySource(envelope)
    let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority)
    var second = MemorySource(envelope)
    var sink = MemorySink()
    try EnvelopeReader.decrypt(verified, from: &second, to: &sink, identity: identity)
    return sink.bytes
}
