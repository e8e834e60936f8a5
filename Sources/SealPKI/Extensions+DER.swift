import GcryptKit
import SwiftASN1

extension Extensions {
    /// Extensions ::= SEQUENCE OF Extension. Unknown critical extensions are refused
    /// (RFC 5280 4.2); unknown non-critical ones are ignored.
    init(derEncoded node: ASN1Node) throws {
        self.init()
        var seen = Set<ASN1ObjectIdentifier>()
        try DER.sequence(node, identifier: .sequence) { nodes in
            while let extensionNode = nodes.next() {
                try DER.sequence(extensionNode, identifier: .sequence) { fields in
                    let id = try ASN1ObjectIdentifier(derEncoded: &fields)
                    guard seen.insert(id).inserted else { throw PKIError.malformed("certificate: duplicate extension \(id)") }
                    var critical = false
                    var valueNode = fields.next()
                    if let flag = valueNode, flag.identifier == .boolean {
                        critical = try Bool(derEncoded: flag)
                        valueNode = fields.next()
                    }
                    guard let valueNode else { throw PKIError.malformed("certificate extension") }
                    let value = try DER.parse(ASN1OctetString(derEncoded: valueNode).bytes)
                    switch id {
                    case OID.basicConstraints:
                        isCA = try DER.sequence(value, identifier: .sequence) { inner in
                            guard let first = inner.next() else { return false }
                            // pathLenConstraint may follow; sealdrop never issues intermediate CAs.
                            while inner.next() != nil {}
                            return try Bool(derEncoded: first)
                        }
                    case OID.keyUsage:
                        keyUsage = try KeyUsage(bitString: ASN1BitString(derEncoded: value))
                    case OID.subjectKeyIdentifier:
                        subjectKeyIdentifier = Array(try ASN1OctetString(derEncoded: value).bytes)
                    case OID.authorityKeyIdentifier:
                        authorityKeyIdentifier = try DER.sequence(value, identifier: .sequence) { inner in
                            let keyID = try DER.optionalImplicitlyTagged(
                                &inner, tag: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific)) as ASN1OctetString?
                            while inner.next() != nil {}
                            return keyID.map { Array($0.bytes) }
                        }
                    case OID.extendedKeyUsage:
                        var usage = ExtendedKeyUsage()
                        try DER.sequence(value, identifier: .sequence) { purposes in
                            while let purpose = purposes.next() {
                                switch try ASN1ObjectIdentifier(derEncoded: purpose) {
                                case OID.serverAuth: usage.insert(.serverAuth)
                                case OID.clientAuth: usage.insert(.clientAuth)
                                default: break
                                }
                            }
                        }
                        extendedKeyUsage = usage
                    case OID.subjectAltName:
                        subjectAltNames = try DER.sequence(value, identifier: .sequence) { names in
                            var result: [AltName] = []
                            while let name = names.next() {
                                guard name.identifier.tagClass == .contextSpecific, case .primitive(let bytes) = name.content else { continue }
                                switch name.identifier.tagNumber {
                                case 2:
                                    // A name sealdrop does not issue (a wildcard, say) is left out.
                                    if let text = String(bytes: bytes, encoding: .ascii), let alt = AltName(text) { result.append(alt) }
                                case 7:
                                    guard bytes.count == 4 || bytes.count == 16 else {
                                        throw PKIError.malformed("certificate: subjectAltName holds an invalid IP address")
                                    }
                                    result.append(.ip(Array(bytes)))
                                default: continue
                                }
                            }
                            return result
                        }
                    default:
                        guard !critical else { throw PKIError.certificateRejected("unknown critical extension \(id)") }
                    }
                }
            }
        }
    }

    /// Writes the extensions sealdrop issues, in a fixed order.
    func serialize(into coder: inout DER.Serializer, subjectKey: RSA.PublicKey) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            if let isCA {
                try Self.write(OID.basicConstraints, critical: true, into: &coder) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        if isCA { try coder.serialize(true) }
                    }
                }
            }
            if let keyUsage {
                try Self.write(OID.keyUsage, critical: true, into: &coder) { try $0.serialize(keyUsage.bitString) }
            }
            if let extendedKeyUsage {
                try Self.write(OID.extendedKeyUsage, critical: false, into: &coder) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        if extendedKeyUsage.contains(.serverAuth) { try coder.serialize(OID.serverAuth) }
                        if extendedKeyUsage.contains(.clientAuth) { try coder.serialize(OID.clientAuth) }
                    }
                }
            }
            if let subjectAltNames {
                try Self.write(OID.subjectAltName, critical: false, into: &coder) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        for name in subjectAltNames {
                            switch name {
                            case .dns(let text):
                                coder.appendPrimitiveNode(identifier: ASN1Identifier(tagWithNumber: 2, tagClass: .contextSpecific)) {
                                    $0.append(contentsOf: text.utf8)
                                }
                            case .ip(let bytes):
                                coder.appendPrimitiveNode(identifier: ASN1Identifier(tagWithNumber: 7, tagClass: .contextSpecific)) {
                                    $0.append(contentsOf: bytes)
                                }
                            }
                        }
                    }
                }
            }
            if let subjectKeyIdentifier {
                try Self.write(OID.subjectKeyIdentifier, critical: false, into: &coder) {
                    try $0.serialize(ASN1OctetString(contentBytes: ArraySlice(subjectKeyIdentifier)))
                }
            }
            if let authorityKeyIdentifier {
                try Self.write(OID.authorityKeyIdentifier, critical: false, into: &coder) { coder in
                    try coder.appendConstructedNode(identifier: .sequence) { coder in
                        try ASN1OctetString(contentBytes: ArraySlice(authorityKeyIdentifier)).serialize(
                            into: &coder, withIdentifier: ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific))
                    }
                }
            }
        }
    }

    private static func write(
        _ id: ASN1ObjectIdentifier, critical: Bool, into coder: inout DER.Serializer,
        _ value: (inout DER.Serializer) throws -> Void
    ) throws {
        try coder.appendConstructedNode(identifier: .sequence) { coder in
            try coder.serialize(id)
            if critical { try coder.serialize(true) }
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(try DERBytes.encode(value))))
        }
    }

    /// The key identifier sealdrop assigns: the first 160 bits of SHA-256 over the
    /// subjectPublicKey bits (RFC 7093 section 2, method 1).
    static func keyIdentifier(for key: RSA.PublicKey) -> [UInt8] {
        let rsaPublicKey = try! SubjectPublicKeyInfo(key: key).rsaPublicKeyDER()
        return Array(SHA256.hash(data: rsaPublicKey).bytes.prefix(20))
    }
}
