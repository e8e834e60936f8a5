import SwiftASN1

/// AlgorithmIdentifier (RFC 5280 4.1.1.2): an OID and optional parameters.
struct AlgorithmIdentifier: DERImplicitlyTaggable, Hashable, Sendable {
    static var defaultIdentifier: ASN1Identifier { .sequence }

    var algorithm: ASN1ObjectIdentifier
    var parameters: ASN1Any?

    init(algorithm: ASN1ObjectIdentifier, parameters: ASN1Any?) {
        self.algorithm = algorithm
        self.parameters = parameters
    }

    init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(node, identifier: identifier) { nodes in
            let algorithm = try ASN1ObjectIdentifier(derEncoded: &nodes)
            let parameters = nodes.next().map { ASN1Any(derEncoded: $0) }
            return AlgorithmIdentifier(algorithm: algorithm, parameters: parameters)
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(algorithm)
            if let parameters { try coder.serialize(parameters) }
        }
    }

    /// True when the parameters are absent or an explicit NULL (both are seen for SHA-256
    /// and rsaEncryption in the wild; RFC 4055 allows either on input).
    var hasNullOrAbsentParameters: Bool {
        guard let parameters else { return true }
        return (try? ASN1Null(asn1Any: parameters)) != nil
    }

    static let sha256 = AlgorithmIdentifier(algorithm: OID.sha256, parameters: nullParameters)
    static let rsaEncryption = AlgorithmIdentifier(algorithm: OID.rsaEncryption, parameters: nullParameters)
    static let nullParameters = try! ASN1Any(erasing: ASN1Null())
}

/// The signature algorithms sealdrop accepts on certificates and requests.
public enum SignatureAlgorithm: Sendable, Equatable {
    /// RSASSA-PSS, SHA-256, MGF1-SHA256, salt 32: what sealdrop signs with.
    case rsaPSSSHA256
    /// sha256WithRSAEncryption: accepted on input only, for certificates made by other tools.
    case rsaPKCS1SHA256

    /// RSASSA-PSS-params for sealdrop's suite, in the form OpenSSL writes.
    static let pssIdentifier: AlgorithmIdentifier = {
        let bytes = try! DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(AlgorithmIdentifier.sha256, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
                let mgf = AlgorithmIdentifier(algorithm: OID.mgf1, parameters: try ASN1Any(erasing: AlgorithmIdentifier.sha256))
                try coder.serialize(mgf, explicitlyTaggedWithTagNumber: 1, tagClass: .contextSpecific)
                try coder.serialize(RSA_PSS_saltLength, explicitlyTaggedWithTagNumber: 2, tagClass: .contextSpecific)
            }
        }
        let parameters = ASN1Any(derEncoded: try! DER.parse(bytes))
        return AlgorithmIdentifier(algorithm: OID.rsassaPSS, parameters: parameters)
    }()

    private static let RSA_PSS_saltLength = 32

    var identifier: AlgorithmIdentifier {
        switch self {
        case .rsaPSSSHA256: Self.pssIdentifier
        case .rsaPKCS1SHA256: AlgorithmIdentifier(algorithm: OID.sha256WithRSAEncryption, parameters: AlgorithmIdentifier.nullParameters)
        }
    }

    /// Recognises an identifier, refusing every other hash, mask or salt length (no downgrade).
    init(_ identifier: AlgorithmIdentifier) throws {
        switch identifier.algorithm {
        case OID.sha256WithRSAEncryption where identifier.hasNullOrAbsentParameters:
            self = .rsaPKCS1SHA256
        case OID.rsassaPSS:
            guard let parameters = identifier.parameters, try Self.isOurPSSSuite(parameters) else {
                throw PKIError.unsupportedAlgorithm("RSA-PSS parameters other than SHA-256, MGF1-SHA256, salt 32")
            }
            self = .rsaPSSSHA256
        default:
            throw PKIError.unsupportedAlgorithm("signature algorithm \(identifier.algorithm)")
        }
    }

    private static func isOurPSSSuite(_ parameters: ASN1Any) throws -> Bool {
        try DER.sequence(try parameters.node(), identifier: .sequence) { nodes in
            // Every field has a SHA-1 default, so each must be present and name SHA-256.
            let hash = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) {
                try AlgorithmIdentifier(derEncoded: $0)
            }
            let mask = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 1, tagClass: .contextSpecific) {
                try AlgorithmIdentifier(derEncoded: $0)
            }
            let salt = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 2, tagClass: .contextSpecific) {
                try Int(derEncoded: $0)
            }
            let trailer = try DER.optionalExplicitlyTagged(&nodes, tagNumber: 3, tagClass: .contextSpecific) {
                try Int(derEncoded: $0)
            }
            guard let hash, hash.algorithm == OID.sha256, hash.hasNullOrAbsentParameters,
                  let mask, mask.algorithm == OID.mgf1, let maskParameters = mask.parameters,
                  let maskHash = try? AlgorithmIdentifier(asn1Any: maskParameters),
                  maskHash.algorithm == OID.sha256, maskHash.hasNullOrAbsentParameters,
                  salt == RSA_PSS_saltLength, trailer == nil || trailer == 1
            else { return false }
            return true
        }
    }
}
