extension RSA {
    /// An RSA private key: signs, and unwraps keys wrapped for it.
    public struct PrivateKey: Sendable {
        public let publicKey: PublicKey
        let key: SExpression

        /// The PKCS#1 RSAPrivateKey fields (RFC 8017 A.1.2), big-endian, no leading zeros.
        /// They are key material: callers zero what they copy out.
        public struct Components: Sendable {
            public var modulus: [UInt8]
            public var publicExponent: [UInt8]
            public var privateExponent: [UInt8]
            public var prime1: [UInt8]
            public var prime2: [UInt8]
            public var exponent1: [UInt8]
            public var exponent2: [UInt8]
            public var coefficient: [UInt8]

            public init(
                modulus: [UInt8], publicExponent: [UInt8], privateExponent: [UInt8], prime1: [UInt8],
                prime2: [UInt8], exponent1: [UInt8], exponent2: [UInt8], coefficient: [UInt8]
            ) {
                self.modulus = modulus
                self.publicExponent = publicExponent
                self.privateExponent = privateExponent
                self.prime1 = prime1
                self.prime2 = prime2
                self.exponent1 = exponent1
                self.exponent2 = exponent2
                self.coefficient = coefficient
            }

            /// Overwrites every field with zeros.
            public mutating func zeroize() {
                for keyPath in [\Components.modulus, \.publicExponent, \.privateExponent, \.prime1, \.prime2,
                                \.exponent1, \.exponent2, \.coefficient] as [WritableKeyPath<Components, [UInt8]>] {
                    Memory.zero(&self[keyPath: keyPath])
                }
            }
        }

        /// A fresh key pair from libgcrypt (e = 65537).
        public static func generate(size: KeySize = .default) throws -> PrivateKey {
            try generateKey(bits: size.rawValue)
        }

        /// A key from PKCS#1 components (as read from a key file). The CRT values are
        /// recomputed rather than trusted, and libgcrypt's consistency check must pass.
        public init(components: Components) throws {
            self = try Self.importKey(components)
        }

        init(publicKey: PublicKey, key: SExpression) {
            self.publicKey = publicKey
            self.key = key
        }

        /// The PKCS#1 fields, for writing an encrypted key file.
        public var components: Components {
            exportComponents()
        }

        /// RSASSA-PSS (SHA-256, MGF1-SHA256, salt 32) signature of `digest`, checked against
        /// the public key before it is returned.
        public func signPSS(digest: SHA256Digest) throws -> [UInt8] {
            let signature = try sign(digest: digest)
            guard publicKey.isValidPSSSignature(signature, for: digest) else {
                throw CryptoError.library(call: "gcry_pk_sign", code: 0, message: "signature failed its own verification")
            }
            return signature
        }

        /// RSAES-OAEP (SHA-256, MGF1-SHA256) decryption. Every failure, whatever its cause,
        /// is the same `CryptoError.authenticationFailure`.
        public func decryptOAEP(_ ciphertext: [UInt8], label: [UInt8] = []) throws -> SecretBytes {
            guard publicKey.isReduced(ciphertext) else { throw CryptoError.authenticationFailure }
            return try decrypt(ciphertext, label: label)
        }
    }
}
