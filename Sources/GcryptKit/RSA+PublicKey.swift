extension RSA {
    /// An RSA public key: verifies signatures and wraps keys for its holder.
    public struct PublicKey: Sendable, Hashable {
        /// Big-endian modulus, no leading zeros.
        public let modulus: [UInt8]
        /// Big-endian public exponent, no leading zeros.
        public let exponent: [UInt8]
        let key: SExpression

        /// A key from its components. Refuses moduli under 2048 bits, even moduli, and
        /// exponents that are even or below 3.
        public init(modulus: [UInt8], exponent: [UInt8]) throws {
            let n = Array(modulus.drop(while: { $0 == 0 }))
            let e = Array(exponent.drop(while: { $0 == 0 }))
            guard let lastN = n.last, lastN & 1 == 1 else { throw CryptoError.invalidKey("RSA modulus is even or zero") }
            guard let lastE = e.last, lastE & 1 == 1, e.count <= 8, e != [1] else {
                throw CryptoError.invalidKey("RSA public exponent must be odd, at least 3 and at most 64 bits")
            }
            try RSA.checkModulusSize(Self.bitCount(of: n))
            self.modulus = n
            self.exponent = e
            key = try SExpression(format: "(public-key (rsa (n %b) (e %b)))", [.bytes(n), .bytes(e)])
        }

        /// The modulus length in bits.
        public var bitCount: Int { Self.bitCount(of: modulus) }
        /// Length of signatures and OAEP ciphertexts.
        public var byteCount: Int { modulus.count }

        /// True when `signature` is a valid RSASSA-PSS (SHA-256, MGF1-SHA256, salt 32) signature
        /// of `digest`. A signature of the wrong length is invalid.
        public func isValidPSSSignature(_ signature: [UInt8], for digest: SHA256Digest) -> Bool {
            guard isReduced(signature) else { return false }
            return verify(signature, digest: digest, padding: .pss)
        }

        /// True when `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `digest`.
        /// Only for certificates that other tools signed; sealdrop itself signs with PSS.
        public func isValidPKCS1v15Signature(_ signature: [UInt8], for digest: SHA256Digest) -> Bool {
            guard isReduced(signature) else { return false }
            return verify(signature, digest: digest, padding: .pkcs1v15)
        }

        /// RSAES-OAEP (SHA-256, MGF1-SHA256) encryption of a short `message` (a content key).
        public func encryptOAEP(_ message: SecretBytes, label: [UInt8] = []) throws -> [UInt8] {
            let limit = byteCount - 2 * SHA256Digest.byteCount - 2
            guard message.count <= limit else {
                throw CryptoError.invalidParameter("OAEP message of \(message.count) bytes exceeds \(limit)")
            }
            return try encrypt(message, label: label)
        }

        public static func == (a: PublicKey, b: PublicKey) -> Bool {
            a.modulus == b.modulus && a.exponent == b.exponent
        }

        public func hash(into hasher: inout Hasher) {
            hasher.combine(modulus)
            hasher.combine(exponent)
        }

        /// True when `value` is exactly `byteCount` bytes and, as an integer, below the modulus
        /// (RFC 8017 5.2.2 and 5.1.2 step 1: an unreduced value is malleable and must be refused).
        public func isReduced(_ value: [UInt8]) -> Bool {
            guard value.count == byteCount else { return false }
            let paddedModulus = [UInt8](repeating: 0, count: byteCount - modulus.count) + modulus
            return value.lexicographicallyPrecedes(paddedModulus)
        }

        static func bitCount(of bigEndian: [UInt8]) -> Int {
            guard let first = bigEndian.first else { return 0 }
            return (bigEndian.count - 1) * 8 + (8 - first.leadingZeroBitCount)
        }
    }
}
