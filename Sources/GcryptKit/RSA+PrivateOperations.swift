extension RSA {
    /// The private operations sealdrop asks of an RSA key, wherever the key lives: in this
    /// process (`PrivateKey`, libgcrypt) or on a PKCS#11 token (SealToken's `TokenKey`).
    /// Every signer, identity, CA and TLS key is one of these, so the envelope code does not
    /// know where its keys are.
    public protocol PrivateOperations: Sendable {
        var publicKey: PublicKey { get }
        /// RSASSA-PSS (SHA-256, MGF1-SHA256, salt 32) of `digest`, checked against the public
        /// key before it is returned.
        func signPSS(digest: SHA256Digest) throws -> [UInt8]
        /// RSAES-OAEP (SHA-256, MGF1-SHA256) with `label`; every failure is
        /// `CryptoError.authenticationFailure`.
        func decryptOAEP(_ ciphertext: [UInt8], label: [UInt8]) throws -> SecretBytes
    }
}

extension RSA.PrivateKey: RSA.PrivateOperations {}

extension RSA.PublicKey {
    /// The OAEP decoding of `encoded`, the raw RSA decryption (`c^d mod n`, `byteCount`
    /// bytes) of a ciphertext for this key, for a key whose holder decrypts without padding:
    /// a token that lacks OAEP with SHA-256 and a label. Constant time, as for a key in memory.
    public func decodeOAEP(rawDecryption encoded: [UInt8], label: [UInt8]) throws -> SecretBytes {
        guard encoded.count == byteCount else { throw CryptoError.authenticationFailure }
        return try RSA.oaepDecode(encoded: encoded, label: label)
    }
}
