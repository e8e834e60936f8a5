import GcryptKit
import SealToken

/// RSA on a PKCS#11 token beside libgcrypt, in the same run and with the same key: a key made
/// in memory is imported into the token for the measurement, then removed from it. The
/// sealdrop column is the token key as sealdrop uses it (PSS signature checked before it is
/// returned; OAEP natively or raw with the decoding in Swift, as the token allows).
public struct TokenBenchmarks: Sendable {
    public let seconds: Double
    public let sizes: [RSA.KeySize]
    public let token: Token

    public init(seconds: Double, sizes: [RSA.KeySize], token: Token) {
        self.seconds = seconds
        self.sizes = sizes
        self.token = token
    }

    public func run(report: (BenchResult) -> Void) throws {
        for size in sizes {
            let key = try RSA.PrivateKey.generate(size: size)
            let onToken = try TokenKey.importKey(key, to: token, label: "sealdrop-bench-" + Random.bytes(count: 8).map { String($0, radix: 16) }.joined(),
                                                 usage: .signAndDecrypt)
            defer { try? onToken.destroy() }
            let raw = try GcryptBaseline.RSAOperations(key: key)
            let digest = SHA256.hash(data: [1, 2, 3])
            let wrapped = try key.publicKey.encryptOAEP(SecretBytes(randomCount: 32), label: [])
            // Once outside the timing, so a token that fails says why instead of being timed.
            _ = try onToken.signPSS(digest: digest)
            _ = try onToken.decryptOAEP(wrapped, label: [])
            let mode = token.oaepMode() == .raw ? "raw+decode" : "native"
            func line(_ name: String, _ pair: (Double, Double)) -> BenchResult {
                BenchResult(name: "rsa-\(size.rawValue) token \(name)", bytes: nil, unit: .millisecondsPerOperation,
                            sealdrop: 1000 / pair.0, libgcrypt: 1000 / pair.1)
            }
            report(line("pss sign", Measure.compare(seconds: seconds, { r in
                for _ in 0..<r { _ = try? onToken.signPSS(digest: digest) }
            }, raw.sign)))
            report(line("oaep unwrap (\(mode))", Measure.compare(seconds: seconds, { r in
                for _ in 0..<r { _ = try? onToken.decryptOAEP(wrapped, label: []) }
            }, raw.unwrap)))
        }
    }
}
