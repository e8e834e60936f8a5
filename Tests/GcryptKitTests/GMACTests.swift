import GcryptKit
import Testing

@Suite struct GMACTests {
    /// GCM's test case 13 (McGrew and Viega, "The Galois/Counter Mode of Operation"): AES-256,
    /// zero key and nonce, nothing authenticated.
    @Test func matchesTheGCMSpecification() {
        let tag = GMAC.tag(key: SecretBytes([UInt8](repeating: 0, count: 32)), nonce: [UInt8](repeating: 0, count: 12))
        #expect(tag.hexString == "530f8afbc74536b9a963b4f1c4cb738b")
    }

    /// GMAC is GCM's tag with everything as associated data and nothing encrypted: the same
    /// as AES.GCM's own, however the data is split into parts.
    @Test func isGCMsTagOverAssociatedData() throws {
        let key = SecretBytes(randomCount: 32)
        let nonce = Random.bytes(count: 12)
        for length in [0, 1, 15, 16, 17, 1000, 65_536 + 5] {
            let data = Random.bytes(count: length)
            let gcm = try AES.GCM.seal([], key: key, nonce: nonce, associatedData: data)
            let cut = length / 3
            #expect(GMAC.tag(key: key, nonce: nonce, data) == gcm.tag)
            #expect(GMAC.tag(key: key, nonce: nonce, Array(data[..<cut]), [], Array(data[cut...])) == gcm.tag)
        }
        let data = Random.bytes(count: 100)
        var other = data
        other[99] ^= 1
        #expect(GMAC.tag(key: key, nonce: nonce, data) != GMAC.tag(key: key, nonce: nonce, other))
        #expect(GMAC.tag(key: key, nonce: nonce, data) != GMAC.tag(key: SecretBytes(randomCount: 32), nonce: nonce, data))
        #expect(GMAC.tag(key: key, nonce: nonce, data) != GMAC.tag(key: key, nonce: Random.bytes(count: 12), data))
    }
}
