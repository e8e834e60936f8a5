import GcryptKit
import Testing

@Suite struct AESTests {
    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256).
    @Test func gcmKnownAnswer() throws {
        let key = SecretBytes([UInt8](hexString: "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")!)
        let plaintext = [UInt8](hexString: "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39")!
        let aad = [UInt8](hexString: "feedfacedeadbeeffeedfacedeadbeefabaddad2")!
        let nonce = [UInt8](hexString: "cafebabefacedbaddecaf888")!
        let sealed = try AES.GCM.seal(plaintext, key: key, nonce: nonce, associatedData: aad)
        #expect(sealed.ciphertext.hexString == "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662")
        #expect(sealed.tag.hexString == "76fc6ece0f4e1768cddf8853bb2d551b")
        #expect(try AES.GCM.open(sealed.ciphertext, tag: sealed.tag, key: key, nonce: nonce, associatedData: aad) == plaintext)
    }

    @Test func gcmRejectsAnyChange() throws {
        let key = SecretBytes(randomCount: 32)
        let nonce = Random.bytes(count: 12)
        let plaintext = Random.bytes(count: 40)
        let sealed = try AES.GCM.seal(plaintext, key: key, nonce: nonce, associatedData: [7])
        for bit in 0..<(sealed.ciphertext.count * 8) {
            var bad = sealed.ciphertext
            bad[bit / 8] ^= 1 << (bit % 8)
            #expect(throws: CryptoError.authenticationFailure) {
                try AES.GCM.open(bad, tag: sealed.tag, key: key, nonce: nonce, associatedData: [7])
            }
        }
        #expect(throws: CryptoError.authenticationFailure) {
            try AES.GCM.open(sealed.ciphertext, tag: sealed.tag, key: key, nonce: nonce, associatedData: [8])
        }
        #expect(throws: CryptoError.authenticationFailure) {
            try AES.GCM.open(sealed.ciphertext, tag: Array(sealed.tag.prefix(12)), key: key, nonce: nonce, associatedData: [7])
        }
    }

    @Test func gcmStreamingMatchesOneShot() throws {
        let key = SecretBytes(randomCount: 32)
        let nonce = Random.bytes(count: 12)
        let plaintext = Random.bytes(count: 1000)
        let oneShot = try AES.GCM.seal(plaintext, key: key, nonce: nonce)
        var sealer = try AES.GCM.Sealer(key: key, nonce: nonce)
        var head = Array(plaintext[..<512])
        var tail = Array(plaintext[512...])
        sealer.encrypt(&head)
        sealer.encryptFinal(&tail)
        #expect(head + tail == oneShot.ciphertext)
        #expect(sealer.tag() == oneShot.tag)
    }

    @Test func cbcStreamingMatchesOneShotAtEveryBoundary() throws {
        let key = SecretBytes(randomCount: 32)
        let iv = Random.bytes(count: 16)
        for length in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
            let plaintext = Random.bytes(count: length)
            let ciphertext = try AES.CBC.encrypt(plaintext, key: key, iv: iv)
            #expect(ciphertext.count == (length / 16 + 1) * 16)
            for chunk in [1, 7, 16, 33] {
                var encryptor = try AES.CBC.Encryptor(key: key, iv: iv)
                var out = [UInt8]()
                var offset = 0
                while offset < plaintext.count {
                    let end = min(offset + chunk, plaintext.count)
                    out += encryptor.update(Array(plaintext[offset..<end]))
                    offset = end
                }
                #expect(out + encryptor.finalize() == ciphertext, "length \(length) chunk \(chunk)")
            }
            #expect(try AES.CBC.decrypt(ciphertext, key: key, iv: iv) == plaintext)
        }
    }

    @Test func cbcInPlaceBlocksMatchStreaming() throws {
        let key = SecretBytes(randomCount: 32)
        let iv = Random.bytes(count: 16)
        let plaintext = Random.bytes(count: 64)
        var inPlace = plaintext
        var encryptor = try AES.CBC.Encryptor(key: key, iv: iv)
        encryptor.encryptBlocks(&inPlace)
        let expected = try AES.CBC.encrypt(plaintext, key: key, iv: iv)
        #expect(inPlace + encryptor.finalize() == expected)
    }

    @Test func wrongSizesAreRefused() {
        #expect(throws: CryptoError.self) { try AES.CBC.encrypt([], key: SecretBytes(randomCount: 16), iv: Random.bytes(count: 16)) }
        #expect(throws: CryptoError.self) { try AES.CBC.encrypt([], key: SecretBytes(randomCount: 32), iv: Random.bytes(count: 12)) }
        #expect(throws: CryptoError.self) { try AES.GCM.seal([], key: SecretBytes(randomCount: 32), nonce: Random.bytes(count: 16)) }
        #expect(throws: CryptoError.authenticationFailure) {
            try AES.CBC.decrypt(Random.bytes(count: 17), key: SecretBytes(randomCount: 32), iv: Random.bytes(count: 16))
        }
        #expect(throws: CryptoError.authenticationFailure) {
            try AES.CBC.decrypt([], key: SecretBytes(randomCount: 32), iv: Random.bytes(count: 16))
        }
    }
}
