import SwiftASN1

/// PEM armour (RFC 7468) over swift-asn1's `PEMDocument`.
enum PEM {
    /// The DER bytes of the single `type` block in `text`.
    static func decode(_ text: String, type: String) throws -> [UInt8] {
        try document(text, expecting: [type]).derBytes
    }

    /// The first PEM block in `text`, which must be one of `types`.
    static func document(_ text: String, expecting types: [String]) throws -> PEMDocument {
        let documents: [PEMDocument]
        do {
            documents = try PEMDocument.parseMultiple(pemString: text)
        } catch {
            throw PKIError.notPEM(expected: types.joined(separator: " or "))
        }
        guard let first = documents.first else { throw PKIError.notPEM(expected: types.joined(separator: " or ")) }
        guard types.contains(first.discriminator) else {
            throw PKIError.wrongPEMType(expected: types.joined(separator: " or "), found: first.discriminator)
        }
        return first
    }

    static func encode(_ der: [UInt8], type: String) -> String {
        PEMDocument(type: type, derBytes: der).pemString + "\n"
    }
}
