import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// The whole seal and open pipelines, in memory, beside the limit that libgcrypt's raw
/// primitives set for the same work (FORMAT.md §11), measured in the same run:
///
///     seal cbc-hmac: sign + wrap + n/AES-CBC-encrypt + n/HMAC
///     seal gcm:      sign + wrap + n/GCM + n/SHA-256
///     open cbc-hmac: verify + unwrap + n/HMAC + n/AES-CBC-decrypt
///     open gcm:      verify + unwrap + n/GCM + 2n/SHA-256 (hash pass, then checked again)
public struct PipelineBenchmarks: Sendable {
    public var seconds: Double
    public var sizes: [Int]
    public var keySize: RSA.KeySize

    public init(seconds: Double = 1, sizes: [Int] = [1 << 10, 64 << 10, 1 << 20, 64 << 20], keySize: RSA.KeySize = .default) {
        self.seconds = seconds
        self.sizes = sizes
        self.keySize = keySize
    }

    /// The parties of one benchmark run: a CA, a signer and a recipient.
    struct Parties {
        let signer: RSASigner
        let identity: RSAIdentity
        let authority: Certificate
        let raw: GcryptBaseline.RSAOperations

        init(keySize: RSA.KeySize) throws {
            let caKey = try RSA.PrivateKey.generate(size: keySize)
            let ca = try CertificateAuthority.create(key: caKey)
            let ownerKey = try RSA.PrivateKey.generate(size: keySize)
            signer = try RSASigner(key: ownerKey, certificate: ca.issue(commonName: "bench", publicKey: ownerKey.publicKey, profile: .user))
            identity = RSAIdentity(key: try RSA.PrivateKey.generate(size: keySize))
            authority = ca.certificate
            raw = try GcryptBaseline.RSAOperations(key: ownerKey)
        }
    }

    public func run(report: (BenchResult) -> Void) throws {
        let parties = try Parties(keySize: keySize)
        let rsa = (
            sign: 1 / Measure.rate(seconds: seconds / 2, parties.raw.sign),
            verify: 1 / Measure.rate(seconds: seconds / 4, parties.raw.verify),
            wrap: 1 / Measure.rate(seconds: seconds / 4, parties.raw.wrap),
            unwrap: 1 / Measure.rate(seconds: seconds / 2, parties.raw.unwrap))
        for size in sizes {
            let perByte = rawPerByteSeconds(size: min(size, 1 << 20))
            let payload = [UInt8](repeating: 0x42, count: size)
            for suite in Suite.allCases {
                let sealer = EnvelopeSealer(signer: parties.signer, recipient: RSARecipient(key: parties.identity.key.publicKey), suite: suite)
                let sealRate = Measure.rate(seconds: seconds / 2) { rounds in
                    for _ in 0..<rounds {
                        var source = MemorySource(payload)
                        var sink = DiscardingSink()
                        _ = try! sealer.seal(from: &source, to: &sink, name: "bench", kind: .message, mediaType: "application/octet-stream")
                    }
                }
                let sealLimit = rsa.sign + rsa.wrap + Double(size) * (suite == .cbcHMAC ? perByte.cbcEncrypt + perByte.hmac : perByte.gcm + perByte.sha)
                report(line("seal \(suite)", size, measured: 1 / sealRate, limit: sealLimit))

                var source = MemorySource(payload)
                var sink = MemorySink()
                _ = try sealer.seal(from: &source, to: &sink, name: "bench", kind: .message, mediaType: "application/octet-stream")
                let envelope = sink.bytes
                let openRate = Measure.rate(seconds: seconds / 2) { rounds in
                    for _ in 0..<rounds {
                        var first = MemorySource(envelope)
                        let verified = try! EnvelopeReader.verify(&first, recipient: parties.identity.fingerprint, authority: parties.authority)
                        var second = MemorySource(envelope)
                        var out = DiscardingSink()
                        try! EnvelopeReader.decrypt(verified, from: &second, to: &out, identity: parties.identity)
                    }
                }
                let openLimit = rsa.verify + rsa.unwrap + Double(size) * (suite == .cbcHMAC ? perByte.hmac + perByte.cbcDecrypt : perByte.gcm + 2 * perByte.sha)
                report(line("open \(suite)", size, measured: 1 / openRate, limit: openLimit))
            }
        }
    }

    /// Seconds per byte of each raw primitive, on a buffer of `size` bytes.
    func rawPerByteSeconds(size: Int) -> (cbcEncrypt: Double, cbcDecrypt: Double, hmac: Double, gcm: Double, sha: Double) {
        var buffer = [UInt8](repeating: 7, count: max(16, size - size % 16))
        let n = Double(buffer.count)
        let budget = seconds / 10
        func perByte(_ rate: Double) -> Double { 1 / (rate * n) }
        return (
            perByte(Measure.rate(seconds: budget) { r in buffer.withUnsafeMutableBytes { GcryptBaseline.aes256CBCEncrypt($0, rounds: r) } }),
            perByte(Measure.rate(seconds: budget) { r in buffer.withUnsafeMutableBytes { GcryptBaseline.aes256CBCDecrypt($0, rounds: r) } }),
            perByte(Measure.rate(seconds: budget) { r in buffer.withUnsafeBytes { GcryptBaseline.hmacSHA256($0, rounds: r) } }),
            perByte(Measure.rate(seconds: budget) { r in buffer.withUnsafeMutableBytes { GcryptBaseline.aes256GCMEncrypt($0, rounds: r) } }),
            perByte(Measure.rate(seconds: budget) { r in buffer.withUnsafeBytes { GcryptBaseline.sha256($0, rounds: r) } }))
    }

    /// Reported as MB/s, so the ratio reads like the primitives' (1.00 = the limit).
    private func line(_ name: String, _ size: Int, measured: Double, limit: Double) -> BenchResult {
        let megabytes = Double(size) / 1e6
        return BenchResult(name: name, bytes: size, unit: .megabytesPerSecond, sealdrop: megabytes / measured, libgcrypt: megabytes / limit)
    }
}
