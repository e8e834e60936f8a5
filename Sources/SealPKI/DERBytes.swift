import SwiftASN1

/// Small helpers around swift-asn1's serializer and parser.
enum DERBytes {
    /// The DER bytes `body` writes.
    static func encode(_ body: (inout DER.Serializer) throws -> Void) throws -> [UInt8] {
        var coder = DER.Serializer()
        try body(&coder)
        return coder.serializedBytes
    }

    static func encode(_ value: some DERSerializable) throws -> [UInt8] {
        try encode { try $0.serialize(value) }
    }

    /// Parses `bytes` as one DER value, naming `what` in the error.
    static func parse<T: DERParseable>(_ type: T.Type, from bytes: [UInt8], what: String) throws -> T {
        do {
            return try T(derEncoded: bytes)
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.malformed(what)
        }
    }
}

extension ASN1Any {
    /// The parsed node behind this value.
    func node() throws -> ASN1Node {
        try DER.parse(DERBytes.encode(self))
    }
}
