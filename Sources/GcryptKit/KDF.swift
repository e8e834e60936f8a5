/// Password-based key derivation: scrypt (what sealdrop writes) and PBKDF2-HMAC-SHA256
/// (what `openssl genpkey -aes-256-cbc` writes, so that sealdrop can read it).
public enum KDF {
    /// scrypt cost parameters (RFC 7914). The block size r is 8, as libgcrypt's scrypt fixes it.
    public struct ScryptParameters: Hashable, Sendable {
        public static let blockSize = 8
        /// The ceiling of N a reader accepts: 64 MiB of memory (128 * r * N), so a hostile key
        /// file cannot demand gigabytes.
        public static let maximumCost = 1 << 16
        /// The ceiling of N * p, the work, a reader accepts: four times `keyFile`'s, about a
        /// second here, so a hostile key file cannot hold a command for minutes.
        public static let maximumWork = 1 << 18

        public var cost: Int
        public var parallelization: Int

        /// N = 2^14, r = 8, p = 4: 16 MiB per derivation (under OpenSSL's 32 MiB scrypt
        /// ceiling, so `openssl pkey` opens the key) and four times the work of OpenSSL's own
        /// `-scrypt` default.
        public static let keyFile = ScryptParameters(cost: 1 << 14, parallelization: 4)

        public init(cost: Int, parallelization: Int) {
            self.cost = cost
            self.parallelization = parallelization
        }

        /// Throws `invalidParameter` unless N, p and N * p are within the reader's ceilings.
        public func validate() throws {
            guard cost > 1, cost & (cost - 1) == 0, cost <= Self.maximumCost else {
                throw CryptoError.invalidParameter("scrypt cost N must be a power of two in 2...\(Self.maximumCost), got \(cost)")
            }
            guard (1...16).contains(parallelization) else {
                throw CryptoError.invalidParameter("scrypt parallelization p must be in 1...16, got \(parallelization)")
            }
            guard cost * parallelization <= Self.maximumWork else {
                throw CryptoError.invalidParameter(
                    "scrypt work N * p must be at most \(Self.maximumWork), got \(cost) * \(parallelization)")
            }
        }
    }

    /// The ceiling of PBKDF2 iterations a reader accepts.
    public static let maximumPBKDF2Iterations = 10_000_000

    /// scrypt on at most `cores` cores (nil: on every one), in the same memory whatever the
    /// count; fewer cores cost less CPU in all (see `Scrypt`).
    public static func scrypt(
        password: SecretBytes, salt: [UInt8], parameters: ScryptParameters, outputByteCount: Int, cores: Int? = nil
    ) throws -> SecretBytes {
        try parameters.validate()
        try checkSaltAndOutput(salt, outputByteCount)
        return try Scrypt.derive(
            password: password, salt: salt, cost: parameters.cost, blockSize: ScryptParameters.blockSize,
            parallelization: parameters.parallelization, outputByteCount: outputByteCount,
            threads: Scrypt.threads(lanes: parameters.parallelization, cost: parameters.cost, cores: cores))
    }

    public static func pbkdf2SHA256(
        password: SecretBytes, salt: [UInt8], iterations: Int, outputByteCount: Int
    ) throws -> SecretBytes {
        guard (1...maximumPBKDF2Iterations).contains(iterations) else {
            throw CryptoError.invalidParameter("PBKDF2 iterations must be in 1...\(maximumPBKDF2Iterations), got \(iterations)")
        }
        return try libgcryptPBKDF2(password: password, salt: salt, iterations: iterations, outputByteCount: outputByteCount)
    }

    /// Refuses an empty salt or output before any work.
    static func checkSaltAndOutput(_ salt: [UInt8], _ outputByteCount: Int) throws {
        guard outputByteCount > 0, !salt.isEmpty else {
            throw CryptoError.invalidParameter("a KDF needs a salt and a positive output length")
        }
    }

    /// HKDF-SHA256 (RFC 5869), built from HMAC since libgcrypt 1.10 has none.
    public static func hkdfSHA256(
        inputKey: SecretBytes, salt: [UInt8], info: [UInt8], outputByteCount: Int
    ) -> SecretBytes {
        precondition(outputByteCount > 0 && outputByteCount <= 255 * HMACSHA256.byteCount)
        let saltKey = SecretBytes(salt.isEmpty ? [UInt8](repeating: 0, count: HMACSHA256.byteCount) : salt)
        let prk = inputKey.withUnsafeBytes { SecretBytes(HMACSHA256.authenticationCode(for: $0, key: saltKey)) }
        var okm = [UInt8]()
        var previous = [UInt8]()
        var counter: UInt8 = 1
        while okm.count < outputByteCount {
            var mac = HMACSHA256(key: prk)
            mac.update(data: previous)
            mac.update(data: info)
            mac.update(data: [counter])
            previous = mac.finalize()
            okm += previous
            counter += 1
        }
        Memory.zero(&previous)
        okm.removeLast(okm.count - outputByteCount)
        defer { Memory.zero(&okm) }
        return SecretBytes(okm)
    }
}
