import GcryptKit
import SwiftASN1

/// A PKCS#10 certificate request (RFC 2986), self-signed with RSA-PSS as proof that the
/// requester holds the private key.
public struct CertificateRequest: Sendable {
    static let pemType = "CERTIFICATE REQUEST"

    public let der: [UInt8]
    public let subject: DistinguishedName
    public let publicKey: RSA.PublicKey
    let signed: SignedData

    /// A request for `userName`, signed by `key`.
    public init(userName: UserName, key: any RSA.PrivateOperations) throws {
        let subject = DistinguishedName(commonName: userName.value)
        let info = try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(0)
                try coder.serialize(subject)
                try coder.serialize(SubjectPublicKeyInfo(key: key.publicKey))
                // attributes [0] IMPLICIT SET OF Attribute: none.
                coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) { _ in }
            }
        }
        try self.init(der: SignedData.sign(tbs: info, with: key))
    }

    public init(der: [UInt8]) throws {
        let node: ASN1Node
        do { node = try DER.parse(der) } catch { throw PKIError.malformed("certificate request (PKCS#10)") }
        do {
            let ((subject, key), signed, _) = try SignedData.parse(node) { info in
                try DER.sequence(info, identifier: .sequence) { nodes in
                    guard try Int(derEncoded: &nodes) == 0 else { throw PKIError.malformed("certificate request version") }
                    let subject = try DistinguishedName(derEncoded: &nodes)
                    let spki = try SubjectPublicKeyInfo(derEncoded: &nodes)
                    // Attributes (e.g. extensionRequest) are ignored: the CA decides the extensions.
                    while nodes.next() != nil {}
                    return (subject, spki.key)
                }
            }
            self.der = der
            self.subject = subject
            publicKey = key
            self.signed = signed
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.malformed("certificate request (PKCS#10)")
        }
    }

    public init(pem text: String) throws {
        try self.init(der: PEM.decode(text, type: Self.pemType))
    }

    public var pem: String { PEM.encode(der, type: Self.pemType) }

    /// True when the request is signed by the key it carries (proof of possession).
    public var hasValidSelfSignature: Bool {
        signed.isValid(under: publicKey)
    }

    /// The requested user name, validated; throws when absent or not a valid name.
    public func userName() throws -> UserName {
        guard let name = subject.commonName else { throw PKIError.invalidName("request has no common name (CN)") }
        return try UserName(name)
    }
}
