/// AES-256-CBC with PKCS#7 padding, one-shot or streaming.
///
/// CBC alone does not authenticate: sealdrop only decrypts after an HMAC over the
/// ciphertext has been checked (encrypt-then-MAC), so padding errors are never observable.
extension AES {
    public enum CBC {
        public static let ivByteCount = 16

        public static func encrypt(_ plaintext: [UInt8], key: SecretBytes, iv: [UInt8]) throws -> [UInt8] {
            var encryptor = try Encryptor(key: key, iv: iv)
            return encryptor.update(plaintext) + encryptor.finalize()
        }

        /// Throws `CryptoError.authenticationFailure` on a bad length or padding.
        public static func decrypt(_ ciphertext: [UInt8], key: SecretBytes, iv: [UInt8]) throws -> [UInt8] {
            var decryptor = try Decryptor(key: key, iv: iv)
            return try decryptor.update(ciphertext) + decryptor.finalize()
        }

        /// Streaming encryption: `update` any number of times, then `finalize` once.
        public struct Encryptor: Sendable {
            private let cipher: CipherHandle
            private var pending: [UInt8] = []
            private var finished = false

            public init(key: SecretBytes, iv: [UInt8]) throws {
                try checkIV(iv)
                cipher = try CipherHandle(mode: .cbc, key: key, iv: iv)
            }

            /// Encrypts whole blocks in place, for callers that manage their own buffers.
            /// `buffer.count` must be a multiple of 16 and no partial block may be pending.
            public mutating func encryptBlocks(_ buffer: inout [UInt8]) {
                precondition(!finished && pending.isEmpty && buffer.count % AES.blockByteCount == 0)
                buffer.withUnsafeMutableBytes { cipher.encrypt(inPlace: $0) }
            }

            /// Returns the ciphertext of every complete block seen so far.
            public mutating func update(_ input: [UInt8]) -> [UInt8] {
                precondition(!finished, "update after finalize")
                var blocks = pending + input
                let whole = blocks.count - blocks.count % AES.blockByteCount
                pending = Array(blocks[whole...])
                blocks.removeLast(blocks.count - whole)
                blocks.withUnsafeMutableBytes { cipher.encrypt(inPlace: $0) }
                return blocks
            }

            /// Pads (PKCS#7) and returns the last one or two blocks.
            public mutating func finalize() -> [UInt8] {
                precondition(!finished, "finalize called twice")
                finished = true
                let padLength = AES.blockByteCount - pending.count
                var last = pending + [UInt8](repeating: UInt8(padLength), count: padLength)
                last.withUnsafeMutableBytes { cipher.encrypt(inPlace: $0) }
                return last
            }
        }

        /// Streaming decryption. The last block is held back until `finalize`, which
        /// checks and strips the padding.
        public struct Decryptor: Sendable {
            private let cipher: CipherHandle
            private var pending: [UInt8] = []
            private var finished = false

            public init(key: SecretBytes, iv: [UInt8]) throws {
                try checkIV(iv)
                cipher = try CipherHandle(mode: .cbc, key: key, iv: iv)
            }

            /// Returns plaintext for every complete block except the last one seen.
            public mutating func update(_ input: [UInt8]) -> [UInt8] {
                precondition(!finished, "update after finalize")
                var blocks = pending + input
                // Keep at least one whole block (possibly the padded last one) back.
                var release = blocks.count - blocks.count % AES.blockByteCount
                if release == blocks.count { release -= AES.blockByteCount }
                guard release > 0 else {
                    pending = blocks
                    return []
                }
                pending = Array(blocks[release...])
                blocks.removeLast(blocks.count - release)
                blocks.withUnsafeMutableBytes { cipher.decrypt(inPlace: $0) }
                return blocks
            }

            /// Decrypts whole blocks in place, for callers that manage their own buffers and
            /// padding (see `removePadding`). No block may be held back from `update`.
            public mutating func decryptBlocks(_ buffer: inout [UInt8]) {
                precondition(!finished && pending.isEmpty && buffer.count % AES.blockByteCount == 0)
                buffer.withUnsafeMutableBytes { cipher.decrypt(inPlace: $0) }
            }

            /// Decrypts the held-back block and strips PKCS#7 padding.
            /// Throws `CryptoError.authenticationFailure` when the length or padding is wrong.
            public mutating func finalize() throws -> [UInt8] {
                precondition(!finished, "finalize called twice")
                finished = true
                guard pending.count == AES.blockByteCount else { throw CryptoError.authenticationFailure }
                var last = pending
                last.withUnsafeMutableBytes { cipher.decrypt(inPlace: $0) }
                try CBC.removePadding(&last)
                return last
            }
        }

        /// Checks and strips PKCS#7 padding from decrypted `plaintext` (a whole number of
        /// blocks). The last block is examined whatever the pad length, so the timing does not
        /// depend on it. Throws `CryptoError.authenticationFailure`.
        public static func removePadding(_ plaintext: inout [UInt8]) throws {
            let n = plaintext.count
            guard n >= AES.blockByteCount, n % AES.blockByteCount == 0 else { throw CryptoError.authenticationFailure }
            let padLength = Int(plaintext[n - 1])
            var bad: UInt8 = (padLength == 0 || padLength > AES.blockByteCount) ? 1 : 0
            for i in 0..<AES.blockByteCount {
                let inPad: UInt8 = i >= AES.blockByteCount - padLength ? 0xFF : 0
                bad |= inPad & (plaintext[n - AES.blockByteCount + i] ^ UInt8(truncatingIfNeeded: padLength))
            }
            guard bad == 0 else { throw CryptoError.authenticationFailure }
            plaintext.removeLast(padLength)
        }

        private static func checkIV(_ iv: [UInt8]) throws {
            guard iv.count == ivByteCount else {
                throw CryptoError.invalidParameter("an AES-CBC IV is 16 bytes, got \(iv.count)")
            }
        }
    }
}
