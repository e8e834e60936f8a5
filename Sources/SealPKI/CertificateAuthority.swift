import Foundation
import GcryptKit

/// A CA: a self-signed certificate and its key, issuing certificates sealdrop trusts.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let key: any RSA.PrivateOperations

    /// How long what sealdrop issues stays valid.
    public enum Lifetime {
        public static let authority: TimeInterval = 10 * 365 * 86_400
        public static let endEntity: TimeInterval = 2 * 365 * 86_400
        /// Back-dating, so that a client whose clock runs a little behind still accepts.
        public static let clockSkew: TimeInterval = 300
    }

    /// What an issued certificate is for; each maps to one keyUsage set.
    public enum Profile: Sendable, Equatable, CustomStringConvertible {
        /// A user: signs posts and requests, receives wrapped keys.
        case user
        /// The server's encryption key: only receives wrapped keys (key separation from the CA).
        case encryption
        /// The server's delivery key: only signs statements in fetch answers.
        case delivery
        /// The server's TLS key (`server serve`): signs handshakes, for the names in its
        /// subjectAltName, with extendedKeyUsage serverAuth.
        case tls

        var keyUsage: KeyUsage {
            switch self {
            case .user: [.digitalSignature, .keyEncipherment]
            case .encryption: .keyEncipherment
            case .delivery: .digitalSignature
            case .tls: .digitalSignature
            }
        }

        /// What TLS may use the certificate for; nil (no extension) for the other roles.
        var extendedKeyUsage: ExtendedKeyUsage? {
            self == .tls ? .serverAuth : nil
        }

        public var description: String {
            switch self {
            case .user: "user"
            case .encryption: "encryption"
            case .delivery: "delivery"
            case .tls: "TLS server"
            }
        }

        /// The subject a server role's certificate has: a space, which no user name holds,
        /// keeps a user from ever being issued one. nil for users (their name).
        public var serverCommonName: String? {
            switch self {
            case .user: nil
            case .encryption: "sealdrop encryption"
            case .delivery: "sealdrop delivery"
            case .tls: "sealdrop tls"
            }
        }
    }

    /// Pairs an existing CA certificate with its key, checking that they belong together.
    public init(certificate: Certificate, key: any RSA.PrivateOperations) throws {
        guard certificate.publicKey == key.publicKey else {
            throw PKIError.certificateRejected("the CA key does not match the CA certificate")
        }
        guard certificate.extensions.isCA == true, certificate.isSelfSigned else {
            throw PKIError.certificateRejected("not a self-signed CA certificate")
        }
        self.certificate = certificate
        self.key = key
    }

    /// A new self-signed CA for `key`, named after its key fingerprint so two servers'
    /// CAs never share a name.
    public static func create(key: any RSA.PrivateOperations, now: Date = Date()) throws -> CertificateAuthority {
        let name = DistinguishedName(commonName: "sealdrop CA " + key.publicKey.fingerprint.digest.hex.prefix(16).uppercased())
        let keyID = Extensions.keyIdentifier(for: key.publicKey)
        let fields = TBSFields(
            serialNumber: randomSerial(), signature: SignatureAlgorithm.rsaPSSSHA256.identifier,
            issuer: name, notBefore: now - Lifetime.clockSkew, notAfter: now + Lifetime.authority,
            subject: name, publicKey: key.publicKey,
            extensions: Extensions(
                isCA: true, keyUsage: [.keyCertSign, .cRLSign],
                subjectKeyIdentifier: keyID, authorityKeyIdentifier: keyID))
        let certificate = try Certificate(der: SignedData.sign(tbs: fields.serialize(), with: key))
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// Issues a certificate naming `subject` for `publicKey`.
    /// `altNames` are the host names and addresses a TLS server certificate is for.
    public func issue(
        commonName: String, publicKey: RSA.PublicKey, profile: Profile, altNames: [AltName]? = nil, now: Date = Date()
    ) throws -> Certificate {
        let fields = TBSFields(
            serialNumber: Self.randomSerial(), signature: SignatureAlgorithm.rsaPSSSHA256.identifier,
            issuer: certificate.subject, notBefore: now - Lifetime.clockSkew,
            notAfter: min(now + Lifetime.endEntity, certificate.notAfter),
            subject: DistinguishedName(commonName: commonName), publicKey: publicKey,
            extensions: Extensions(
                isCA: false, keyUsage: profile.keyUsage,
                subjectKeyIdentifier: Extensions.keyIdentifier(for: publicKey),
                authorityKeyIdentifier: certificate.extensions.subjectKeyIdentifier,
                extendedKeyUsage: profile.extendedKeyUsage, subjectAltNames: altNames))
        let issued = try Certificate(der: SignedData.sign(tbs: fields.serialize(), with: key))
        try issued.verify(issuedBy: certificate, at: now, for: profile.keyUsage)
        return issued
    }

    /// Issues a user certificate from a request, after checking its proof of possession
    /// and its name.
    public func issue(for request: CertificateRequest, now: Date = Date()) throws -> Certificate {
        guard request.hasValidSelfSignature else { throw PKIError.badSignature("certificate request") }
        let name = try request.userName()
        return try issue(commonName: name.value, publicKey: request.publicKey, profile: .user, now: now)
    }

    /// 128 random bits, positive and non-zero (RFC 5280 4.1.2.2 allows up to 20 octets).
    static func randomSerial() -> [UInt8] {
        var serial = Random.bytes(count: 16)
        serial[0] = serial[0] & 0x7F | 0x40
        return serial
    }
}
