import Foundation
import GcryptKit

/// The fixtures directory at the package root (tests never read outside the package).
let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

/// A Wycheproof file: the generic envelope around groups of one test kind.
struct WycheproofFile<Group: Decodable>: Decodable {
    let algorithm: String
    let numberOfTests: Int
    let testGroups: [Group]

    static func load(_ name: String) throws -> WycheproofFile {
        let url = fixturesDirectory.appendingPathComponent("wycheproof").appendingPathComponent(name)
        return try JSONDecoder().decode(WycheproofFile.self, from: Data(contentsOf: url))
    }
}

/// What a vector expects. "acceptable" cases are resolved per file by a written policy.
enum WycheproofResult: String, Decodable {
    case valid, invalid, acceptable
}

/// A hex string in the JSON, decoded to bytes.
struct Hex: Decodable {
    let bytes: [UInt8]

    init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let bytes = [UInt8](hexString: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad hex"))
        }
        self.bytes = bytes
    }
}

struct WycheproofPublicKey: Decodable {
    let modulus: Hex
    let publicExponent: Hex

    func key() throws -> RSA.PublicKey {
        try RSA.PublicKey(modulus: modulus.bytes, exponent: publicExponent.bytes)
    }
}

struct WycheproofPrivateKey: Decodable {
    let modulus, privateExponent, publicExponent, prime1, prime2, exponent1, exponent2, coefficient: Hex

    func key() throws -> RSA.PrivateKey {
        try RSA.PrivateKey(components: .init(
            modulus: modulus.bytes, publicExponent: publicExponent.bytes, privateExponent: privateExponent.bytes,
            prime1: prime1.bytes, prime2: prime2.bytes, exponent1: exponent1.bytes, exponent2: exponent2.bytes,
            coefficient: coefficient.bytes))
    }
}

/// A signature-verification group (PSS or PKCS#1 v1.5).
struct SignatureGroup: Decodable {
    struct Test: Decodable {
        let tcId: Int
        let comment: String
        let flags: [String]
        let msg: Hex
        let sig: Hex
        let result: WycheproofResult
    }

    let sha: String
    let mgfSha: String?
    let sLen: Int?
    let publicKey: WycheproofPublicKey
    let publicKeyDer: Hex
    let tests: [Test]
}

struct OAEPGroup: Decodable {
    struct Test: Decodable {
        let tcId: Int
        let comment: String
        let flags: [String]
        let msg: Hex
        let ct: Hex
        let label: Hex
        let result: WycheproofResult
    }

    let keySize: Int
    let sha: String
    let mgfSha: String
    let privateKey: WycheproofPrivateKey
    let privateKeyPkcs8: Hex
    let tests: [Test]
}

struct CipherGroup: Decodable {
    struct Test: Decodable {
        let tcId: Int
        let comment: String
        let flags: [String]
        let key: Hex
        let iv: Hex
        let msg: Hex
        let ct: Hex
        let result: WycheproofResult
    }

    let keySize: Int
    let tests: [Test]
}
