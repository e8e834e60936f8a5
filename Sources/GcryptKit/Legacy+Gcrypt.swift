import CGcrypt

/// What reading openssl's traditional encrypted PEM keys needs and nothing else does: MD5
/// (in its key derivation) and CBC decryption with AES-128/192/256 or triple DES. Only ever
/// used to decrypt a key file the user brings; sealdrop never writes these.
public enum Legacy {
    public enum Cipher: Sendable {
        case aes128CBC, aes192CBC, aes256CBC, tripleDESCBC

        public var keyByteCount: Int {
            switch self {
            case .aes128CBC: 16
            case .aes192CBC, .tripleDESCBC: 24
            case .aes256CBC: 32
            }
        }

        public var blockByteCount: Int { self == .tripleDESCBC ? 8 : 16 }

        var algorithm: Int32 {
            switch self {
            case .aes128CBC: Int32(GCRY_CIPHER_AES.rawValue)
            case .aes192CBC: Int32(GCRY_CIPHER_AES192.rawValue)
            case .aes256CBC: Int32(GCRY_CIPHER_AES256.rawValue)
            case .tripleDESCBC: Int32(GCRY_CIPHER_3DES.rawValue)
            }
        }
    }

    /// MD5 of `data`.
    public static func md5(_ data: [UInt8]) -> [UInt8] {
        Library.ensureInitialized()
        var out = [UInt8](repeating: 0, count: 16)
        out.withUnsafeMutableBytes { digest in
            data.withUnsafeBytes { gcry_md_hash_buffer(Int32(GCRY_MD_MD5.rawValue), digest.baseAddress, $0.baseAddress, $0.count) }
        }
        return out
    }

    /// openssl's EVP_BytesToKey with MD5 and one iteration: D1 = MD5(P || S),
    /// Di = MD5(Di-1 || P || S), concatenated to `count` bytes.
    public static func bytesToKey(password: SecretBytes, salt: [UInt8], count: Int) -> SecretBytes {
        var out: [UInt8] = []
        var previous: [UInt8] = []
        var secret = password.withUnsafeBytes { Array($0) }
        // Every copy of the passphrase and of the derived bytes is zeroed on the way out.
        defer {
            Memory.zero(&secret)
            Memory.zero(&previous)
            Memory.zero(&out)
        }
        while out.count < count {
            var input = previous + secret + salt
            Memory.zero(&previous)
            previous = md5(input)
            Memory.zero(&input)
            out += previous
        }
        return SecretBytes(Array(out.prefix(count)))
    }

    /// CBC-decrypts `ciphertext` and removes its PKCS#7 padding; nil when the padding is
    /// wrong (a wrong passphrase, mostly).
    public static func decryptCBC(_ ciphertext: [UInt8], cipher: Cipher, key: SecretBytes, iv: [UInt8]) throws -> [UInt8]? {
        guard key.count == cipher.keyByteCount, iv.count == cipher.blockByteCount,
              !ciphertext.isEmpty, ciphertext.count % cipher.blockByteCount == 0 else {
            throw CryptoError.invalidParameter("legacy CBC: wrong key, IV or ciphertext length")
        }
        Library.ensureInitialized()
        var h: gcry_cipher_hd_t?
        try Library.check(gcry_cipher_open(&h, cipher.algorithm, Int32(GCRY_CIPHER_MODE_CBC.rawValue), 0), "gcry_cipher_open")
        guard let h else { throw CryptoError.invalidParameter("gcry_cipher_open returned no handle") }
        defer { gcry_cipher_close(h) }
        try key.withUnsafeBytes { try Library.check(gcry_cipher_setkey(h, $0.baseAddress, $0.count), "gcry_cipher_setkey") }
        try iv.withUnsafeBytes { try Library.check(gcry_cipher_setiv(h, $0.baseAddress, $0.count), "gcry_cipher_setiv") }
        var plaintext = ciphertext
        try plaintext.withUnsafeMutableBytes {
            try Library.check(gcry_cipher_decrypt(h, $0.baseAddress, $0.count, nil, 0), "gcry_cipher_decrypt")
        }
        guard let pad = plaintext.last, pad >= 1, Int(pad) <= cipher.blockByteCount,
              plaintext.suffix(Int(pad)).allSatisfy({ $0 == pad }) else {
            Memory.zero(&plaintext)
            return nil
        }
        plaintext.removeLast(Int(pad))
        return plaintext
    }
}
