import GcryptKit
import Testing

/// RFC 4231 test cases 1, 2 and 6 (a key longer than the block), plus streaming.
@Suite struct HMACTests {
    @Test(arguments: [
        ([UInt8](repeating: 0x0B, count: 20), "Hi There",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (Array("Jefe".utf8), "what do ya want for nothing?",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        ([UInt8](repeating: 0xAA, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
    ])
    func rfc4231(key: [UInt8], data: String, tag: String) {
        let secret = SecretBytes(key)
        #expect(HMACSHA256.authenticationCode(for: Array(data.utf8), key: secret).hexString == tag)
        var streaming = HMACSHA256(key: secret)
        for byte in data.utf8 { streaming.update(data: [byte]) }
        #expect(streaming.finalize().hexString == tag)
        #expect(HMACSHA256.isValid([UInt8](hexString: tag)!, for: Array(data.utf8), key: secret))
    }

    @Test func everyBitOfTheTagMatters() {
        let key = SecretBytes(randomCount: 32)
        let data = Array("sealdrop".utf8)
        let tag = HMACSHA256.authenticationCode(for: data, key: key)
        for bit in 0..<(tag.count * 8) {
            var bad = tag
            bad[bit / 8] ^= 1 << (bit % 8)
            #expect(!HMACSHA256.isValid(bad, for: data, key: key), "bit \(bit)")
        }
        #expect(!HMACSHA256.isValid(Array(tag.dropLast()), for: data, key: key))
    }

    @Test func constantTimeEqual() {
        #expect(Memory.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Memory.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Memory.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(Memory.constantTimeEqual([UInt8](), [UInt8]()))
    }

    @Test func zeroing() {
        var secret: [UInt8] = [1, 2, 3]
        Memory.zero(&secret)
        #expect(secret == [0, 0, 0])
    }
}
