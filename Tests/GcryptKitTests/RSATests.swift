import GcryptKit
import Testing

/// One 2048-bit key pair per test process: generation is the slow part.
let testKey = try! RSA.PrivateKey.generate(size: .bits2048)
let otherKey = try! RSA.PrivateKey.generate(size: .bits2048)

@Suite struct RSATests {
    @Test func pssSignVerify() throws {
        let digest = SHA256.hash(data: Array("image bytes".utf8))
        let signature = try testKey.signPSS(digest: digest)
        #expect(signature.count == 256)
        #expect(testKey.publicKey.isValidPSSSignature(signature, for: digest))
        #expect(!otherKey.publicKey.isValidPSSSignature(signature, for: digest))
        #expect(!testKey.publicKey.isValidPSSSignature(signature, for: SHA256.hash(data: Array("other".utf8))))
        #expect(!testKey.publicKey.isValidPKCS1v15Signature(signature, for: digest), "PSS must not pass as PKCS#1 v1.5")
        #expect(!testKey.publicKey.isValidPSSSignature([0] + signature, for: digest), "over-long signature")
        for bit in stride(from: 0, to: signature.count * 8, by: 97) {
            var bad = signature
            bad[bit / 8] ^= 1 << (bit % 8)
            #expect(!testKey.publicKey.isValidPSSSignature(bad, for: digest), "bit \(bit)")
        }
        // A check remembered (VerifiedSignatures) answers as libgcrypt did; the failures above
        // were each checked, after the success was remembered.
        #expect(testKey.publicKey.isValidPSSSignature(signature, for: digest))
        // Randomised salt: two signatures differ but both verify.
        #expect(try testKey.signPSS(digest: digest) != signature)
    }

    @Test func oaepRoundTripWithAndWithoutLabel() throws {
        let message = SecretBytes(randomCount: 32)
        for label in [[UInt8](), Array("sealdrop".utf8)] {
            let wrapped = try testKey.publicKey.encryptOAEP(message, label: label)
            #expect(wrapped.count == 256)
            #expect(try testKey.decryptOAEP(wrapped, label: label).bytes == message.bytes)
            #expect(throws: CryptoError.authenticationFailure) { try otherKey.decryptOAEP(wrapped, label: label) }
            #expect(throws: CryptoError.authenticationFailure) { try testKey.decryptOAEP(wrapped, label: label + [1]) }
            #expect(throws: CryptoError.authenticationFailure) { try testKey.decryptOAEP(Array(wrapped.dropFirst()), label: label) }
        }
        #expect(throws: CryptoError.self) {
            try testKey.publicKey.encryptOAEP(SecretBytes(randomCount: 256 - 65), label: [])
        }
    }

    @Test func componentsRoundTripAndPrimeOrderDoesNotMatter() throws {
        var components = testKey.components
        defer { components.zeroize() }
        let reloaded = try RSA.PrivateKey(components: components)
        #expect(reloaded.publicKey == testKey.publicKey)
        var swapped = components
        swap(&swapped.prime1, &swapped.prime2)
        let fromSwapped = try RSA.PrivateKey(components: swapped)
        let digest = SHA256.hash(data: [1, 2, 3])
        #expect(testKey.publicKey.isValidPSSSignature(try fromSwapped.signPSS(digest: digest), for: digest))
        #expect(components.prime1.count * 8 >= 1024)
    }

    @Test func inconsistentComponentsAreRefused() throws {
        var components = testKey.components
        components.privateExponent[components.privateExponent.count - 1] ^= 2
        #expect(throws: CryptoError.self) { try RSA.PrivateKey(components: components) }
        var mixed = testKey.components
        mixed.prime1 = otherKey.components.prime1
        #expect(throws: CryptoError.self) { try RSA.PrivateKey(components: mixed) }
    }

    @Test func smallAndMalformedKeysAreRefused() {
        let small = [UInt8](repeating: 0xFF, count: 128) // 1024 bits, odd
        #expect(throws: CryptoError.self) { try RSA.PublicKey(modulus: small, exponent: [1, 0, 1]) }
        #expect(throws: CryptoError.self) { try RSA.PublicKey(modulus: testKey.publicKey.modulus, exponent: [1]) }
        #expect(throws: CryptoError.self) { try RSA.PublicKey(modulus: testKey.publicKey.modulus, exponent: [2]) }
        #expect(throws: CryptoError.self) { try RSA.PublicKey(modulus: testKey.publicKey.modulus + [0], exponent: [3]) }
        #expect(RSA.KeySize.default == .bits3072)
    }

    @Test func generatesTheRequestedSize() throws {
        let key = try RSA.PrivateKey.generate(size: .bits3072)
        #expect(key.publicKey.bitCount == 3072)
        #expect(key.publicKey.exponent == [1, 0, 1])
    }
}
