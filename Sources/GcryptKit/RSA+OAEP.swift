/// EME-OAEP decoding (RFC 8017 section 7.1.2, step 3), done here rather than in libgcrypt:
/// libgcrypt 1.10's decoder does not check that the padding string before the 0x01
/// separator is all zeros (Wycheproof tcId 16 and 17 of the OAEP files), and a lax decoder
/// is a forgery and oracle risk. Runs in time independent of where decoding fails.
extension RSA {
    static func oaepDecode(encoded em: [UInt8], label: [UInt8]) throws -> SecretBytes {
        let hLen = SHA256Digest.byteCount
        guard em.count >= 2 * hLen + 2 else { throw CryptoError.authenticationFailure }
        let maskedSeed = em[1...hLen]
        let maskedDB = em[(hLen + 1)...]
        var seed = zip(maskedSeed, mgf1(seed: Array(maskedDB), length: hLen)).map { $0 ^ $1 }
        var db = zip(maskedDB, mgf1(seed: seed, length: maskedDB.count)).map { $0 ^ $1 }
        defer {
            Memory.zero(&seed)
            Memory.zero(&db)
        }
        let labelHash = SHA256.hash(data: label).bytes

        var bad: UInt8 = em[0]
        for i in 0..<hLen { bad |= db[i] ^ labelHash[i] }
        var notFound: UInt8 = 0xFF
        var separator = 0
        for i in hLen..<db.count {
            let isOne = equalMask(db[i], 0x01)
            let isZero = equalMask(db[i], 0x00)
            let take = notFound & isOne
            separator = select(take, i, separator)
            bad |= notFound & ~isOne & ~isZero
            notFound &= ~isOne
        }
        bad |= notFound
        guard bad == 0 else { throw CryptoError.authenticationFailure }
        return SecretBytes(Array(db[(separator + 1)...]))
    }

    /// MGF1 with SHA-256 (RFC 8017 B.2.1).
    static func mgf1(seed: [UInt8], length: Int) -> [UInt8] {
        var mask = [UInt8]()
        mask.reserveCapacity(length + SHA256Digest.byteCount)
        var counter: UInt32 = 0
        while mask.count < length {
            var hasher = SHA256()
            hasher.update(data: seed)
            hasher.update(data: withUnsafeBytes(of: counter.bigEndian) { Array($0) })
            mask += hasher.finalize().bytes
            counter += 1
        }
        return Array(mask.prefix(length))
    }

    /// 0xFF when a == b, else 0x00, without a branch.
    private static func equalMask(_ a: UInt8, _ b: UInt8) -> UInt8 {
        let x = UInt16(a ^ b)
        return UInt8(truncatingIfNeeded: (x &- 1) >> 8)
    }

    /// `a` when mask is 0xFF, `b` when it is 0x00, without a branch.
    private static func select(_ mask: UInt8, _ a: Int, _ b: Int) -> Int {
        let wide = Int(Int8(bitPattern: mask))
        return (a & wide) | (b & ~wide)
    }
}
