import Foundation
import GcryptKit
import Testing
@testable import SealPKI

/// DER and key files that once trapped or ran away: each is now one clean error.
@Suite struct HostileDERTests {
    static let certificatePEM = try! String(contentsOf: fixturesDirectory.appendingPathComponent("envelopes/keys/bob.crt"), encoding: .utf8)

    /// The version INTEGER 0x7FFFFFFFFFFFFFFF overflowed `version + 1` in the error message.
    @Test(arguments: [[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], [0x80, 0, 0, 0, 0, 0, 0, 0], [0x00, 0x03]] as [[UInt8]])
    func hugeCertificateVersionIsAnError(version: [UInt8]) throws {
        let der = try PEM.document(Self.certificatePEM, expecting: ["CERTIFICATE"]).derBytes
        // 30 82 LL LL 30 82 LL LL A0 03 02 01 02: the outer and TBS lengths are long-form.
        #expect(Array(der[8..<13]) == [0xA0, 0x03, 0x02, 0x01, 0x02])
        let grow = version.count - 1
        var forged = Array(der[0..<8]) + [0xA0, UInt8(2 + version.count), 0x02, UInt8(version.count)] + version + Array(der[13...])
        for offset in [2, 6] {
            let length = Int(forged[offset]) << 8 | Int(forged[offset + 1]) + grow
            forged[offset] = UInt8(length >> 8)
            forged[offset + 1] = UInt8(length & 0xFF)
        }
        #expect(throws: (any Error).self) { _ = try Certificate(der: forged) }
    }

    /// p = 1, q = n made libgcrypt divide by zero computing d mod (p - 1).
    @Test func degeneratePrimesAreRefused() throws {
        let key = try RSA.PrivateKey.generate(size: .bits2048)
        var c = key.components
        defer { c.zeroize() }
        for (p, q) in [([UInt8(1)], c.modulus), (c.modulus, [UInt8(1)]), ([UInt8(2)], c.modulus), ([UInt8(0)], c.modulus)] {
            var bad = c
            bad.prime1 = p
            bad.prime2 = q
            #expect(throws: CryptoError.self) { _ = try RSA.PrivateKey(components: bad) }
        }
    }

    /// scrypt's cost is bounded before any derivation: memory (N) and work (N * p).
    @Test(arguments: [(1 << 20, 1), (1 << 17, 1), (1 << 16, 16), (1 << 15, 16)])
    func scryptCostIsBounded(cost: Int, parallelization: Int) throws {
        #expect(throws: CryptoError.self) {
            _ = try KDF.scrypt(password: SecretBytes(Array("x".utf8)), salt: [1, 2, 3],
                               parameters: .init(cost: cost, parallelization: parallelization), outputByteCount: 32)
        }
    }

    /// A key file asking for N = 2^20 is refused with a message naming the parameters.
    @Test func keyFileWithHugeScryptIsRefused() throws {
        let key = try RSA.PrivateKey.generate(size: .bits2048)
        let text = try EncryptedPrivateKey.pem(for: key, passphrase: SecretBytes(Array("pw".utf8)),
                                               parameters: .init(cost: 1 << 10, parallelization: 1))
        var der = try PEM.document(text, expecting: ["ENCRYPTED PRIVATE KEY"]).derBytes
        // The scrypt parameters carry N = 1024 as INTEGER 02 02 04 00 (then r = 8).
        let n1024: [UInt8] = [0x02, 0x02, 0x04, 0x00, 0x02, 0x01, 0x08]
        let at = try #require((0...(der.count - n1024.count)).first { Array(der[$0..<$0 + n1024.count]) == n1024 })
        der[at + 2] = 0x7F  // N = 0x7F00: not a power of two, refused the same way as one too large
        #expect(throws: PKIError.self) { _ = try EncryptedPrivateKey.decrypt(der: der, passphrase: SecretBytes(Array("pw".utf8))) }
    }
}
