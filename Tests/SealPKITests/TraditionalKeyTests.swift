import Foundation
import GcryptKit
import SealPKI
import Testing

/// openssl's traditional encrypted `RSA PRIVATE KEY` files are read (never written).
struct TraditionalKeyTests {
    static let folder = fixturesDirectory.appendingPathComponent("keys/traditional").path
    let passphrase = SecretBytes(Array("sealdrop test vectors".utf8))

    func text(_ name: String) throws -> String { try KeyFile.readText("\(Self.folder)/\(name)") }

    @Test(arguments: ["aes128", "aes192", "aes256", "des3"])
    func readsWhatOpensslWrote(cipher: String) throws {
        let key = try EncryptedPrivateKey.decrypt(pem: try text("\(cipher).key"), passphrase: passphrase)
        let expected = try KeyFile.readPublicKey(at: "\(Self.folder)/\(cipher).pub")
        #expect(key.publicKey.fingerprint == expected.fingerprint)
        // The key works: a signature verifies under openssl's public key.
        let digest = SHA256.hash(data: [1, 2, 3])
        #expect(expected.isValidPSSSignature(try key.signPSS(digest: digest), for: digest))
    }

    @Test(arguments: ["aes128", "des3"])
    func aWrongPassphraseIsSaid(cipher: String) throws {
        #expect(throws: PKIError.wrongPassphrase) {
            try EncryptedPrivateKey.decrypt(pem: try text("\(cipher).key"), passphrase: SecretBytes(Array("wrong".utf8)))
        }
    }

    @Test func anUnknownCipherOrBrokenHeaderIsRefusedInWords() throws {
        let original = try text("aes256.key")
        let unknown = original.replacingOccurrences(of: "AES-256-CBC", with: "CAMELLIA-256-CBC")
        #expect(throws: PKIError.self) { try EncryptedPrivateKey.decrypt(pem: unknown, passphrase: passphrase) }
        do {
            _ = try EncryptedPrivateKey.decrypt(pem: unknown, passphrase: passphrase)
        } catch {
            #expect("\(error)".contains("CAMELLIA-256-CBC"))
        }
        let shortIV = original.replacingOccurrences(of: #"AES-256-CBC,[0-9A-F]{32}"#, with: "AES-256-CBC,00", options: .regularExpression)
        #expect(throws: PKIError.self) { try EncryptedPrivateKey.decrypt(pem: shortIV, passphrase: passphrase) }
        let crlf = original.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try EncryptedPrivateKey.decrypt(pem: crlf, passphrase: passphrase).publicKey.fingerprint
            == KeyFile.readPublicKey(at: "\(Self.folder)/aes256.pub").fingerprint)
    }

    @Test func anUnencryptedTraditionalKeyIsRefusedLikeAnyClearKey() throws {
        #expect(throws: PKIError.unencryptedPrivateKey) {
            try EncryptedPrivateKey.decrypt(pem: try text("clear.key"), passphrase: passphrase)
        }
    }
}
