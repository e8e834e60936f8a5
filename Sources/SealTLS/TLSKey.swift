import GcryptKit
import NIOCore
import NIOPosix
import NIOSSL
import SealPKI

/// A TLS private key that stays in libgcrypt: swift-nio-ssl asks it for each handshake
/// signature (rsa_pss_rsae_sha256, the only scheme offered), and it answers with GcryptKit's
/// RSA-PSS, the same code that signs envelopes. The TLS library never holds the key. A
/// signature takes milliseconds, so it is made on a thread pool, never on the event loop.
public struct TLSKey: NIOSSLCustomPrivateKey, Hashable {
    let key: any RSA.PrivateOperations
    let fingerprint: String

    public init(_ key: any RSA.PrivateOperations) {
        self.key = key
        fingerprint = key.publicKey.fingerprint.description
    }

    public static func == (a: TLSKey, b: TLSKey) -> Bool { a.fingerprint == b.fingerprint }
    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    /// PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt: what GcryptKit signs, and what
    /// TLS 1.3 asks of an RSA key.
    public var signatureAlgorithms: [NIOSSL.SignatureAlgorithm] { [.rsaPssRsaeSha256] }

    public func sign(channel: any Channel, algorithm: NIOSSL.SignatureAlgorithm, data: ByteBuffer) -> EventLoopFuture<ByteBuffer> {
        guard algorithm == .rsaPssRsaeSha256 else {
            return channel.eventLoop.makeFailedFuture(NIOSSLError.failedToLoadPrivateKey)
        }
        let message = Array(data.readableBytesView)
        let key = self.key
        return NIOThreadPool.singleton.runIfActive(eventLoop: channel.eventLoop) {
            ByteBuffer(bytes: try key.signPSS(digest: SHA256.hash(data: message)))
        }
    }

    /// TLS 1.3 has no RSA key exchange: nothing is ever decrypted with this key.
    public func decrypt(channel: any Channel, data: ByteBuffer) -> EventLoopFuture<ByteBuffer> {
        channel.eventLoop.makeFailedFuture(NIOSSLError.failedToLoadPrivateKey)
    }
}
