import GcryptKit
import SealPKI

/// Wraps a content key for one recipient (age's "recipient"): the seam where recipient
/// types plug in.
public protocol Recipient: Sendable {
    /// SHA-256 of the recipient's SubjectPublicKeyInfo, written in the header.
    var fingerprint: [UInt8] { get }
    /// The exact length of what `wrap` returns.
    var wrappedKeyLength: Int { get }
    func wrap(_ contentKey: SecretBytes, label: [UInt8]) throws -> [UInt8]
}

/// Unwraps a content key wrapped for it (age's "identity").
public protocol Identity: Sendable {
    /// Throws when the key behind it could not be had (a key file still unlocking that fails).
    var fingerprint: [UInt8] { get throws }
    var wrappedKeyLength: Int { get throws }
    /// Any failure is `EnvelopeError.tampered`.
    func unwrap(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes
    /// A batch key (§5.1): the same wrapped bytes come once per envelope of a batch, so an
    /// identity may remember what it unwrapped (`BatchKeyCache`).
    func unwrapBatchKey(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes
}

extension Identity {
    public func unwrapBatchKey(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes {
        try unwrap(wrapped, label: label)
    }
}

/// Signs a transcript digest and names itself with a certificate.
public protocol Signer: Sendable {
    var certificate: Certificate { get }
    func sign(_ digest: SHA256Digest) throws -> [UInt8]
}

/// An RSA key as a recipient: RSAES-OAEP-SHA256 with the header digest as label.
public struct RSARecipient: Recipient {
    public let key: RSA.PublicKey
    public init(key: RSA.PublicKey) { self.key = key }
    public var fingerprint: [UInt8] { key.fingerprint.digest.bytes }
    public var wrappedKeyLength: Int { key.byteCount }

    public func wrap(_ contentKey: SecretBytes, label: [UInt8]) throws -> [UInt8] {
        try key.encryptOAEP(contentKey, label: label)
    }
}

/// An RSA private key as an identity, in memory or on a token.
public struct RSAIdentity: Identity {
    public let key: any RSA.PrivateOperations
    public init(key: any RSA.PrivateOperations) { self.key = key }
    public var fingerprint: [UInt8] { key.publicKey.fingerprint.digest.bytes }
    public var wrappedKeyLength: Int { key.publicKey.byteCount }

    public func unwrap(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes {
        do {
            return try key.decryptOAEP(wrapped, label: label)
        } catch {
            throw EnvelopeError.tampered
        }
    }
}

/// An RSA private key (in memory or on a token) with its certificate, signing with RSA-PSS.
public struct RSASigner: Signer {
    public let certificate: Certificate
    public let key: any RSA.PrivateOperations

    /// Refuses a certificate that is not for this key.
    public init(key: any RSA.PrivateOperations, certificate: Certificate) throws {
        guard certificate.publicKey == key.publicKey else {
            throw PKIError.certificateRejected("the certificate is for another key")
        }
        self.key = key
        self.certificate = certificate
    }

    public func sign(_ digest: SHA256Digest) throws -> [UInt8] {
        try key.signPSS(digest: digest)
    }
}
