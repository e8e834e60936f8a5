import GcryptKit

/// GcryptKit's primitives against the same libgcrypt calls made directly.
public struct PrimitiveBenchmarks: Sendable {
    /// Seconds spent on each line (split between sealdrop and libgcrypt).
    public var seconds: Double
    public var sizes: [Int]
    public var rsaSizes: [RSA.KeySize]

    public init(seconds: Double = 1, sizes: [Int] = [16 << 10, 1 << 20], rsaSizes: [RSA.KeySize] = [.default]) {
        self.seconds = seconds
        self.sizes = sizes
        self.rsaSizes = rsaSizes
    }

    /// Runs every case, handing each result to `report` as soon as it is measured.
    public func run(report: (BenchResult) -> Void) throws {
        for size in sizes {
            try symmetric(size: size).forEach(report)
        }
        for keySize in rsaSizes {
            try rsa(keySize).forEach(report)
        }
    }

    func symmetric(size: Int) throws -> [BenchResult] {
        var buffer = [UInt8](repeating: 0x5A, count: size)
        let key = SecretBytes(randomCount: 32)
        let megabytes = Double(size) / 1e6
        func line(_ name: String, _ pair: (Double, Double)) -> BenchResult {
            BenchResult(name: name, bytes: size, unit: .megabytesPerSecond, sealdrop: pair.0 * megabytes, libgcrypt: pair.1 * megabytes)
        }
        let sha = Measure.compare(seconds: seconds, { rounds in
            for _ in 0..<rounds {
                var hasher = SHA256()
                hasher.update(data: buffer)
                _ = hasher.finalize()
            }
        }, { rounds in buffer.withUnsafeBytes { GcryptBaseline.sha256($0, rounds: rounds) } })
        let hmac = Measure.compare(seconds: seconds, { rounds in
            for _ in 0..<rounds { _ = HMACSHA256.authenticationCode(for: buffer, key: key) }
        }, { rounds in buffer.withUnsafeBytes { GcryptBaseline.hmacSHA256($0, rounds: rounds) } })
        let iv = Random.bytes(count: 16)
        let cbc = Measure.compare(seconds: seconds, { rounds in
            for _ in 0..<rounds {
                var encryptor = try! AES.CBC.Encryptor(key: key, iv: iv)
                encryptor.encryptBlocks(&buffer)
            }
        }, { rounds in buffer.withUnsafeMutableBytes { GcryptBaseline.aes256CBCEncrypt($0, rounds: rounds) } })
        let nonce = Random.bytes(count: 12)
        let gcm = Measure.compare(seconds: seconds, { rounds in
            for _ in 0..<rounds {
                var sealer = try! AES.GCM.Sealer(key: key, nonce: nonce)
                sealer.encryptFinal(&buffer)
                _ = sealer.tag()
            }
        }, { rounds in buffer.withUnsafeMutableBytes { GcryptBaseline.aes256GCMEncrypt($0, rounds: rounds) } })
        return [line("sha256", sha), line("hmac-sha256", hmac), line("aes-256-cbc encrypt", cbc), line("aes-256-gcm encrypt", gcm)]
    }

    func rsa(_ size: RSA.KeySize) throws -> [BenchResult] {
        let key = try RSA.PrivateKey.generate(size: size)
        let raw = try GcryptBaseline.RSAOperations(key: key)
        let digest = SHA256.hash(data: [1, 2, 3])
        let signature = try key.signPSS(digest: digest)
        let contentKey = SecretBytes(randomCount: 32)
        let wrapped = try key.publicKey.encryptOAEP(contentKey)
        func line(_ name: String, _ pair: (Double, Double)) -> BenchResult {
            BenchResult(name: "rsa-\(size.rawValue) \(name)", bytes: nil, unit: .millisecondsPerOperation,
                        sealdrop: 1000 / pair.0, libgcrypt: 1000 / pair.1)
        }
        return [
            // signPSS verifies its own signature before returning it (a fault check), so it
            // costs one verification more than the bare libgcrypt call.
            line("pss sign", Measure.compare(seconds: seconds, { r in for _ in 0..<r { _ = try! key.signPSS(digest: digest) } }, raw.sign)),
            line("pss verify", Measure.compare(seconds: seconds, { r in
                for _ in 0..<r { _ = key.publicKey.isValidPSSSignature(signature, for: digest) }
            }, raw.verify)),
            line("oaep wrap", Measure.compare(seconds: seconds, { r in
                for _ in 0..<r { _ = try! key.publicKey.encryptOAEP(contentKey) }
            }, raw.wrap)),
            line("oaep unwrap", Measure.compare(seconds: seconds, { r in
                for _ in 0..<r { _ = try! key.decryptOAEP(wrapped) }
            }, raw.unwrap)),
        ]
    }
}
