import GcryptKit
import SwiftASN1

/// SubjectPublicKeyInfo (RFC 5280 4.1.2.7) holding an RSA key (RFC 8017 A.1.1).
struct SubjectPublicKeyInfo: DERImplicitlyTaggable, Sendable {
    static var defaultIdentifier: ASN1Identifier { .sequence }

    let key: RSA.PublicKey

    init(key: RSA.PublicKey) {
        self.key = key
    }

    init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        key = try DER.sequence(node, identifier: identifier) { nodes in
            let algorithm = try AlgorithmIdentifier(derEncoded: &nodes)
            guard algorithm.algorithm == OID.rsaEncryption, algorithm.hasNullOrAbsentParameters else {
                throw PKIError.unsupportedAlgorithm("public key type \(algorithm.algorithm) (only rsaEncryption)")
            }
            let bits = try ASN1BitString(derEncoded: &nodes)
            guard bits.paddingBits == 0 else { throw PKIError.malformed("RSA public key bit string") }
            return try DER.sequence(try DER.parse(bits.bytes), identifier: .sequence) { inner in
                let n = try ArraySlice<UInt8>(derEncoded: &inner)
                let e = try ArraySlice<UInt8>(derEncoded: &inner)
                return try RSA.PublicKey(modulus: Array(n), exponent: Array(e))
            }
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(AlgorithmIdentifier.rsaEncryption)
            try coder.serialize(ASN1BitString(bytes: ArraySlice(rsaPublicKeyDER())))
        }
    }

    /// RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
    func rsaPublicKeyDER() throws -> [UInt8] {
        try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(ArraySlice(key.modulus))
                try coder.serialize(ArraySlice(key.exponent))
            }
        }
    }
}

extension RSA.PublicKey {
    static let pemType = "PUBLIC KEY"

    /// The SubjectPublicKeyInfo DER encoding (what `openssl pkey -pubin` reads).
    public var spkiDER: [UInt8] {
        try! DERBytes.encode(SubjectPublicKeyInfo(key: self))
    }

    public var spkiPEM: String {
        PEMDocument(type: Self.pemType, derBytes: spkiDER).pemString + "\n"
    }

    public init(spkiDER: [UInt8]) throws {
        self = try DERBytes.parse(SubjectPublicKeyInfo.self, from: spkiDER, what: "public key (SubjectPublicKeyInfo)").key
    }

    public init(spkiPEM: String) throws {
        self = try RSA.PublicKey(spkiDER: PEM.decode(spkiPEM, type: Self.pemType))
    }

    /// SHA-256 of the SubjectPublicKeyInfo: how sealdrop names a key.
    public var fingerprint: Fingerprint {
        Fingerprint(of: spkiDER)
    }
}
