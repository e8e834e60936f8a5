import GcryptKit
import Testing

@Suite struct SHA256Tests {
    @Test func knownAnswers() {
        #expect(SHA256.hash(data: [UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hash(data: Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func streamingMatchesOneShotAcrossChunkings() {
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        let expected = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        #expect(SHA256.hash(data: million).hex == expected)
        for chunk in [1, 63, 64, 65, 4096, 999_999] {
            var hasher = SHA256()
            var offset = 0
            while offset < million.count {
                let end = min(offset + chunk, million.count)
                hasher.update(data: million[offset..<end])
                offset = end
            }
            #expect(hasher.finalize().hex == expected, "chunk \(chunk)")
        }
    }

    @Test func copyingForksTheStream() {
        var a = SHA256()
        a.update(data: Array("ab".utf8))
        var b = a
        b.update(data: Array("c".utf8))
        #expect(a.finalize() == SHA256.hash(data: Array("ab".utf8)))
        #expect(b.finalize() == SHA256.hash(data: Array("abc".utf8)))
        // finalize does not spend the hasher
        a.update(data: Array("c".utf8))
        #expect(a.finalize() == b.finalize())
    }

    @Test func digestRefusesWrongLength() {
        #expect(throws: CryptoError.self) { try SHA256Digest(bytes: [1, 2, 3]) }
    }

    @Test func hexRoundTrip() {
        let bytes: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF]
        #expect(bytes.hexString == "00017f80ff")
        #expect([UInt8](hexString: "00017F80ff") == bytes)
        #expect([UInt8](hexString: "abc") == nil)
        #expect([UInt8](hexString: "zz") == nil)
    }
}
