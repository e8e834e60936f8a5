import SwiftASN1

/// An X.501 Name (RFC 5280 4.1.2.4), kept as its DER bytes so that issuer/subject
/// comparisons are exact, with its attributes decoded for display.
public struct DistinguishedName: DERImplicitlyTaggable, Hashable, Sendable, CustomStringConvertible {
    public static var defaultIdentifier: ASN1Identifier { .sequence }

    /// (attribute type, value as text) in order.
    let attributes: [(ASN1ObjectIdentifier, String)]
    let der: [UInt8]

    /// A name with one common name (UTF8String), the only form sealdrop writes.
    init(commonName: String) {
        attributes = [(OID.commonName, commonName)]
        der = try! DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.appendConstructedNode(identifier: .set) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try coder.serialize(OID.commonName)
                        try coder.serialize(ASN1UTF8String(commonName))
                    }
                }
            }
        }
    }

    public init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        var attributes: [(ASN1ObjectIdentifier, String)] = []
        try DER.sequence(node, identifier: identifier) { rdns in
            while let rdn = rdns.next() {
                try DER.set(rdn, identifier: .set) { pairs in
                    while let pair = pairs.next() {
                        try DER.sequence(pair, identifier: .sequence) { fields in
                            let type = try ASN1ObjectIdentifier(derEncoded: &fields)
                            guard let value = fields.next(), case .primitive(let bytes) = value.content else {
                                throw PKIError.malformed("name attribute")
                            }
                            attributes.append((type, String(decoding: bytes, as: UTF8.self)))
                        }
                    }
                }
            }
        }
        self.attributes = attributes
        der = Array(node.encodedBytes)
    }

    public func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        coder.serializeRawBytes(der)
    }

    /// The first common name, if any.
    public var commonName: String? {
        attributes.first { $0.0 == OID.commonName }?.1
    }

    public var description: String {
        attributes.map { type, value in
            let label = switch type {
            case OID.commonName: "CN"
            case OID.organizationName: "O"
            default: type.description
            }
            return "\(label)=\(value)"
        }.joined(separator: ", ")
    }

    public static func == (a: DistinguishedName, b: DistinguishedName) -> Bool { a.der == b.der }
    public func hash(into hasher: inout Hasher) { hasher.combine(der) }
}
