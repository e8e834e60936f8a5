import CGcrypt

/// libgcrypt called directly, with no Swift wrapper in the loop: the reference that
/// `sealdrop bench` measures GcryptKit against in the same process.
///
/// Only for benchmarks. Each function does the same work as the GcryptKit path it
/// mirrors, on a caller-provided buffer, `rounds` times.
public enum GcryptBaseline {
    /// SHA-256 of `buffer`, `rounds` times, one context per round.
    public static func sha256(_ buffer: UnsafeRawBufferPointer, rounds: Int) {
        Library.ensureInitialized()
        var digest = [UInt8](repeating: 0, count: 32)
        for _ in 0..<rounds {
            var h: gcry_md_hd_t?
            gcry_md_open(&h, Int32(GCRY_MD_SHA256.rawValue), 0)
            gcry_md_write(h, buffer.baseAddress, buffer.count)
            let out = gcry_md_read(h, Int32(GCRY_MD_SHA256.rawValue))!
            digest.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: out, count: 32)) }
            gcry_md_close(h)
        }
    }

    /// HMAC-SHA256 of `buffer`, `rounds` times.
    public static func hmacSHA256(_ buffer: UnsafeRawBufferPointer, rounds: Int) {
        Library.ensureInitialized()
        let key = [UInt8](repeating: 7, count: 32)
        var tag = [UInt8](repeating: 0, count: 32)
        for _ in 0..<rounds {
            var h: gcry_mac_hd_t?
            gcry_mac_open(&h, Int32(GCRY_MAC_HMAC_SHA256.rawValue), 0, nil)
            gcry_mac_setkey(h, key, key.count)
            gcry_mac_write(h, buffer.baseAddress, buffer.count)
            var length = tag.count
            gcry_mac_read(h, &tag, &length)
            gcry_mac_close(h)
        }
    }

    /// AES-256-CBC encryption of `buffer` in place (whole blocks), `rounds` times.
    public static func aes256CBCEncrypt(_ buffer: UnsafeMutableRawBufferPointer, rounds: Int) {
        cipherLoop(mode: GCRY_CIPHER_MODE_CBC, ivLength: 16, buffer, rounds: rounds)
    }

    /// AES-256-CBC decryption of `buffer` in place (whole blocks), `rounds` times.
    public static func aes256CBCDecrypt(_ buffer: UnsafeMutableRawBufferPointer, rounds: Int) {
        cipherLoop(mode: GCRY_CIPHER_MODE_CBC, ivLength: 16, buffer, rounds: rounds, decrypt: true)
    }

    /// AES-256-GCM encryption of `buffer` in place plus the tag, `rounds` times.
    public static func aes256GCMEncrypt(_ buffer: UnsafeMutableRawBufferPointer, rounds: Int) {
        cipherLoop(mode: GCRY_CIPHER_MODE_GCM, ivLength: 12, buffer, rounds: rounds)
    }

    private static func cipherLoop(
        mode: gcry_cipher_modes, ivLength: Int, _ buffer: UnsafeMutableRawBufferPointer, rounds: Int, decrypt: Bool = false
    ) {
        Library.ensureInitialized()
        let key = [UInt8](repeating: 1, count: 32)
        let iv = [UInt8](repeating: 2, count: ivLength)
        var tag = [UInt8](repeating: 0, count: 16)
        for _ in 0..<rounds {
            var h: gcry_cipher_hd_t?
            gcry_cipher_open(&h, Int32(GCRY_CIPHER_AES256.rawValue), Int32(mode.rawValue), 0)
            gcry_cipher_setkey(h, key, key.count)
            gcry_cipher_setiv(h, iv, iv.count)
            if decrypt {
                gcry_cipher_decrypt(h, buffer.baseAddress, buffer.count, nil, 0)
            } else {
                gcry_cipher_encrypt(h, buffer.baseAddress, buffer.count, nil, 0)
            }
            if mode == GCRY_CIPHER_MODE_GCM { gcry_cipher_gettag(h, &tag, tag.count) }
            gcry_cipher_close(h)
        }
    }

    /// Prepared RSA operations on one key: the S-expressions are built once, outside the
    /// timed loop, so only libgcrypt's own work is measured.
    public final class RSAOperations: @unchecked Sendable {
        private let privateKey: RSA.PrivateKey
        private let digestData: SExpression
        private let signature: SExpression
        private let plaintext: SExpression
        private let ciphertext: SExpression

        public init(key: RSA.PrivateKey) throws {
            privateKey = key
            let digest = SHA256.hash(data: [1, 2, 3])
            digestData = try RSA.digestData(digest, padding: .pss)
            signature = try SExpression(format: "(sig-val (rsa (s %b)))", [.bytes(key.signPSS(digest: digest))])
            let contentKey = SecretBytes(randomCount: 32)
            plaintext = try contentKey.withUnsafeBytes {
                try SExpression(format: "(data (flags oaep) (hash-algo sha256) (value %b))", [.bytes(Array($0))])
            }
            let wrapped = try key.publicKey.encryptOAEP(contentKey)
            ciphertext = try SExpression(format: "(enc-val (flags oaep) (hash-algo sha256) (rsa (a %b)))", [.bytes(wrapped)])
        }

        public func sign(rounds: Int) {
            for _ in 0..<rounds {
                var result: gcry_sexp_t?
                withExtendedLifetime((digestData, privateKey.key)) { _ = gcry_pk_sign(&result, digestData.raw, privateKey.key.raw) }
                gcry_sexp_release(result)
            }
        }

        public func verify(rounds: Int) {
            for _ in 0..<rounds {
                withExtendedLifetime((signature, digestData, privateKey.publicKey.key)) {
                    _ = gcry_pk_verify(signature.raw, digestData.raw, privateKey.publicKey.key.raw)
                }
            }
        }

        public func wrap(rounds: Int) {
            for _ in 0..<rounds {
                var result: gcry_sexp_t?
                withExtendedLifetime((plaintext, privateKey.publicKey.key)) {
                    _ = gcry_pk_encrypt(&result, plaintext.raw, privateKey.publicKey.key.raw)
                }
                gcry_sexp_release(result)
            }
        }

        public func unwrap(rounds: Int) {
            for _ in 0..<rounds {
                var result: gcry_sexp_t?
                withExtendedLifetime((ciphertext, privateKey.key)) { _ = gcry_pk_decrypt(&result, ciphertext.raw, privateKey.key.raw) }
                gcry_sexp_release(result)
            }
        }
    }
}
