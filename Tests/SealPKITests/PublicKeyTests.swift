import Foundation
import GcryptKit
import SealPKI
import Testing

@Suite struct PublicKeyTests {
    @Test func spkiRoundTripAndOpenSSL() throws {
        let pem = userKey.publicKey.spkiPEM
        #expect(try RSA.PublicKey(spkiPEM: pem) == userKey.publicKey)
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let text = try openssl(["pkey", "-pubin", "-in", try scratch.write(pem, to: "k.pub"), "-noout", "-text"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("Public-Key: (2048 bit)"))
    }

    /// Wycheproof's DER keys parse to the same components as its JSON fields.
    @Test func wycheproofKeysParse() throws {
        struct File: Decodable {
            struct Group: Decodable {
                struct Key: Decodable { let modulus: String; let publicExponent: String }
                let publicKey: Key
                let publicKeyDer: String
            }
            let testGroups: [Group]
        }
        let url = fixturesDirectory.appendingPathComponent("wycheproof/rsa_pss_3072_sha256_mgf1_32_test.json")
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        for group in file.testGroups {
            let key = try RSA.PublicKey(spkiDER: [UInt8](hexString: group.publicKeyDer)!)
            #expect(key == (try RSA.PublicKey(
                modulus: [UInt8](hexString: group.publicKey.modulus)!, exponent: [UInt8](hexString: group.publicKey.publicExponent)!)))
        }
    }

    @Test func truncatedDERIsMalformed() throws {
        let der = userKey.publicKey.spkiDER
        for cut in stride(from: 0, to: der.count, by: 7) {
            #expect(throws: PKIError.self) { try RSA.PublicKey(spkiDER: Array(der[..<cut])) }
        }
    }

    @Test func fingerprintPrintsAndParses() throws {
        let fingerprint = userKey.publicKey.fingerprint
        let text = fingerprint.description
        #expect(text.hasPrefix("SHA256:"))
        #expect(text.count == 7 + 32 * 3 - 1)
        #expect(Fingerprint(parsing: text) == fingerprint)
        #expect(Fingerprint(parsing: text.lowercased()) == fingerprint)
        #expect(Fingerprint(parsing: fingerprint.digest.hex) == fingerprint)
        #expect(Fingerprint(parsing: "SHA256:AB") == nil)
    }
}
