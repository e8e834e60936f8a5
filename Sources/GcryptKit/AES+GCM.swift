/// AES-256-GCM, one-shot or streaming, with 12-byte nonces and 16-byte tags.
extension AES {
    public enum GCM {
        public static let nonceByteCount = 12
        public static let tagByteCount = 16

        /// Ciphertext and tag of `plaintext`, authenticating `associatedData` too.
        public static func seal(
            _ plaintext: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8] = []
        ) throws -> (ciphertext: [UInt8], tag: [UInt8]) {
            var sealer = try Sealer(key: key, nonce: nonce, associatedData: associatedData)
            var ciphertext = plaintext
            sealer.encryptFinal(&ciphertext)
            return (ciphertext, sealer.tag())
        }

        /// The plaintext, or `CryptoError.authenticationFailure`; nothing is returned unless the
        /// tag is right.
        public static func open(
            _ ciphertext: [UInt8], tag: [UInt8], key: SecretBytes, nonce: [UInt8], associatedData: [UInt8] = []
        ) throws -> [UInt8] {
            var opener = try Opener(key: key, nonce: nonce, associatedData: associatedData)
            var plaintext = ciphertext
            opener.decryptFinal(&plaintext)
            guard opener.isValid(tag: tag) else {
                Memory.zero(&plaintext)
                throw CryptoError.authenticationFailure
            }
            return plaintext
        }

        /// Streaming encryption in place: `encrypt` chunks whose length is a multiple of 16,
        /// then `encryptFinal` once (any length), then read `tag()`.
        public struct Sealer: Sendable {
            private let cipher: CipherHandle

            public init(key: SecretBytes, nonce: [UInt8], associatedData: [UInt8] = []) throws {
                try checkNonce(nonce)
                cipher = try CipherHandle(mode: .gcm, key: key, iv: nonce)
                associatedData.withUnsafeBytes { cipher.authenticate($0) }
            }

            public mutating func encrypt(_ buffer: inout [UInt8]) {
                precondition(buffer.count % AES.blockByteCount == 0, "only the final GCM chunk may be partial")
                buffer.withUnsafeMutableBytes { cipher.encrypt(inPlace: $0) }
            }

            public mutating func encryptFinal(_ buffer: inout [UInt8]) {
                cipher.markFinal()
                buffer.withUnsafeMutableBytes { cipher.encrypt(inPlace: $0) }
            }

            public func tag() -> [UInt8] { cipher.tag() }
        }

        /// Streaming decryption in place. The plaintext it yields is unauthenticated until
        /// `isValid(tag:)` returns true: callers must not release it before then.
        public struct Opener: Sendable {
            private let cipher: CipherHandle

            public init(key: SecretBytes, nonce: [UInt8], associatedData: [UInt8] = []) throws {
                try checkNonce(nonce)
                cipher = try CipherHandle(mode: .gcm, key: key, iv: nonce)
                associatedData.withUnsafeBytes { cipher.authenticate($0) }
            }

            public mutating func decrypt(_ buffer: inout [UInt8]) {
                precondition(buffer.count % AES.blockByteCount == 0, "only the final GCM chunk may be partial")
                buffer.withUnsafeMutableBytes { cipher.decrypt(inPlace: $0) }
            }

            public mutating func decryptFinal(_ buffer: inout [UInt8]) {
                cipher.markFinal()
                buffer.withUnsafeMutableBytes { cipher.decrypt(inPlace: $0) }
            }

            /// Constant-time check of the 16-byte tag.
            public func isValid(tag: [UInt8]) -> Bool {
                tag.count == tagByteCount && cipher.checkTag(tag)
            }
        }

        private static func checkNonce(_ nonce: [UInt8]) throws {
            guard nonce.count == nonceByteCount else {
                throw CryptoError.invalidParameter("an AES-GCM nonce is 12 bytes, got \(nonce.count)")
            }
        }
    }
}
