import Foundation
import GcryptKit
import SwiftASN1

/// An X.509 v3 certificate (RFC 5280) with an RSA key, as sealdrop reads and writes them.
///
/// Parsing is strict about what matters for trust (version 3, matching signature
/// algorithms, known critical extensions only) and keeps the exact TBS bytes so that
/// verification checks what was signed, not a re-encoding.
public struct Certificate: Sendable, Hashable {
    static let pemType = "CERTIFICATE"

    public let der: [UInt8]
    let tbs: [UInt8]
    public let serialNumber: [UInt8]
    public let signatureAlgorithm: SignatureAlgorithm
    public let issuer: DistinguishedName
    public let subject: DistinguishedName
    public let notBefore: Date
    public let notAfter: Date
    public let publicKey: RSA.PublicKey
    public let extensions: Extensions
    let signature: [UInt8]

    public init(der: [UInt8]) throws {
        self = try DERBytes.parse(CertificateDER.self, from: der, what: "certificate (X.509)").certificate
    }

    public init(pem text: String) throws {
        try self.init(der: PEM.decode(text, type: Self.pemType))
    }

    public var pem: String { PEM.encode(der, type: Self.pemType) }

    /// SHA-256 of the whole certificate, as `openssl x509 -fingerprint -sha256` computes it.
    public var fingerprint: Fingerprint { Fingerprint(of: der) }

    /// True when this certificate is self-issued and its signature verifies under its own key.
    public var isSelfSigned: Bool {
        issuer == subject && hasValidSignature(from: publicKey)
    }

    /// Checks the signature on this certificate under `key`.
    func hasValidSignature(from key: RSA.PublicKey) -> Bool {
        SignedData(tbs: tbs, algorithm: signatureAlgorithm, signature: signature).isValid(under: key)
    }

    public static func == (a: Certificate, b: Certificate) -> Bool { a.der == b.der }
    public func hash(into hasher: inout Hasher) { hasher.combine(der) }

    init(der: [UInt8], tbs: [UInt8], fields: TBSFields, signatureAlgorithm: SignatureAlgorithm, signature: [UInt8]) {
        self.der = der
        self.tbs = tbs
        serialNumber = fields.serialNumber
        self.signatureAlgorithm = signatureAlgorithm
        issuer = fields.issuer
        subject = fields.subject
        notBefore = fields.notBefore
        notAfter = fields.notAfter
        publicKey = fields.publicKey
        extensions = fields.extensions
        self.signature = signature
    }
}

/// The v3 extensions sealdrop understands.
public struct Extensions: Sendable, Hashable {
    /// basicConstraints cA; nil when the extension is absent.
    public var isCA: Bool?
    public var keyUsage: KeyUsage?
    public var subjectKeyIdentifier: [UInt8]?
    public var authorityKeyIdentifier: [UInt8]?
    /// extendedKeyUsage: the purposes sealdrop knows (TLS server, TLS client); nil when absent.
    public var extendedKeyUsage: ExtendedKeyUsage?
    /// subjectAltName: the DNS names and IP addresses of a TLS server; nil when absent.
    public var subjectAltNames: [AltName]?
}

/// The extendedKeyUsage purposes sealdrop issues; others a certificate lists are ignored.
public struct ExtendedKeyUsage: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let serverAuth = ExtendedKeyUsage(rawValue: 1)
    public static let clientAuth = ExtendedKeyUsage(rawValue: 2)
}

/// A subjectAltName entry sealdrop issues and reads: a DNS name or an IP address (4 or 16
/// bytes). Other kinds of name are kept out when read.
public enum AltName: Sendable, Hashable, CustomStringConvertible {
    case dns(String)
    case ip([UInt8])

    /// `NAME` for a DNS name, a dotted or colon form for an IP address.
    public init?(_ text: String) {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .ip(withUnsafeBytes(of: &v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .ip(withUnsafeBytes(of: &v6) { Array($0) })
        } else {
            // RFC 1123 host names: letters, digits, hyphens and dots, 1 to 253 characters.
            let bytes = Array(text.utf8)
            guard (1...253).contains(bytes.count), !text.hasPrefix("."), !text.hasSuffix("."), !text.contains(".."),
                  bytes.allSatisfy({ (0x61...0x7A).contains($0 | 0x20) || (0x30...0x39).contains($0) || $0 == 0x2D || $0 == 0x2E })
            else { return nil }
            self = .dns(text.lowercased())
        }
    }

    public var description: String {
        switch self {
        case .dns(let name): return name
        case .ip(let bytes):
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            let family = bytes.count == 4 ? AF_INET : AF_INET6
            guard bytes.withUnsafeBytes({ inet_ntop(family, $0.baseAddress, &buffer, socklen_t(buffer.count)) }) != nil else {
                return "?"
            }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}

/// A TBS structure, its algorithm and signature: the part that certificates and requests share.
struct SignedData {
    var tbs: [UInt8]
    var algorithm: SignatureAlgorithm
    var signature: [UInt8]

    func isValid(under key: RSA.PublicKey) -> Bool {
        let digest = SHA256.hash(data: tbs)
        return switch algorithm {
        case .rsaPSSSHA256: key.isValidPSSSignature(signature, for: digest)
        case .rsaPKCS1SHA256: key.isValidPKCS1v15Signature(signature, for: digest)
        }
    }

    /// Signs `tbs` with PSS and returns the DER of SEQUENCE { tbs, algorithm, BIT STRING }.
    static func sign(tbs: [UInt8], with key: any RSA.PrivateOperations) throws -> [UInt8] {
        let signature = try key.signPSS(digest: SHA256.hash(data: tbs))
        return try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                coder.serializeRawBytes(tbs)
                try coder.serialize(SignatureAlgorithm.rsaPSSSHA256.identifier)
                try coder.serialize(ASN1BitString(bytes: ArraySlice(signature)))
            }
        }
    }

    /// Splits SEQUENCE { tbs, algorithm, BIT STRING } and hands the TBS node to `parseTBS`.
    static func parse<T>(
        _ node: ASN1Node, _ parseTBS: (ASN1Node) throws -> T
    ) throws -> (T, SignedData, AlgorithmIdentifier) {
        try DER.sequence(node, identifier: .sequence) { nodes in
            guard let tbsNode = nodes.next() else { throw PKIError.malformed("signed structure") }
            let fields = try parseTBS(tbsNode)
            let identifier = try AlgorithmIdentifier(derEncoded: &nodes)
            let bits = try ASN1BitString(derEncoded: &nodes)
            guard bits.paddingBits == 0 else { throw PKIError.malformed("signature bit string") }
            let signed = SignedData(
                tbs: Array(tbsNode.encodedBytes), algorithm: try SignatureAlgorithm(identifier), signature: Array(bits.bytes))
            return (fields, signed, identifier)
        }
    }
}
