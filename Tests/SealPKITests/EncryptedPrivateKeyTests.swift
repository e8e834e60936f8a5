import Foundation
import GcryptKit
import SealPKI
import Testing

@Suite struct EncryptedPrivateKeyTests {
    let passphrase = SecretBytes(Array("correct horse battery staple".utf8))

    @Test func roundTrip() throws {
        let pem = try EncryptedPrivateKey.pem(for: userKey, passphrase: passphrase)
        #expect(pem.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        let loaded = try EncryptedPrivateKey.decrypt(pem: pem, passphrase: passphrase)
        #expect(loaded.publicKey == userKey.publicKey)
        // Fresh salt and IV each time.
        #expect(try EncryptedPrivateKey.pem(for: userKey, passphrase: passphrase) != pem)
    }

    @Test func wrongPassphraseIsNamed() throws {
        let pem = try EncryptedPrivateKey.pem(for: userKey, passphrase: passphrase)
        #expect(throws: PKIError.wrongPassphrase) {
            try EncryptedPrivateKey.decrypt(pem: pem, passphrase: SecretBytes(Array("wrong".utf8)))
        }
    }

    /// Several keys decrypted at once come back in order; the first failure in order is thrown.
    @Test func severalKeysAtOnce() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        try EncryptedPrivateKey.pem(for: userKey, passphrase: passphrase).write(toFile: scratch.path("user.key"), atomically: true, encoding: .utf8)
        try EncryptedPrivateKey.pem(for: caKey, passphrase: passphrase).write(toFile: scratch.path("ca.key"), atomically: true, encoding: .utf8)
        try EncryptedPrivateKey.pem(for: caKey, passphrase: SecretBytes(Array("other".utf8)))
            .write(toFile: scratch.path("other.key"), atomically: true, encoding: .utf8)
        let keys = try KeyFile.readPrivateKeys(at: [scratch.path("ca.key"), scratch.path("user.key"), scratch.path("ca.key")], passphrase: passphrase)
        #expect(keys.map(\.publicKey) == [caKey.publicKey, userKey.publicKey, caKey.publicKey])
        #expect(throws: PKIError.wrongPassphrase) {
            try KeyFile.readPrivateKeys(at: [scratch.path("user.key"), scratch.path("other.key"), scratch.path("missing.key")], passphrase: passphrase)
        }
        #expect(throws: FileError.missing(scratch.path("missing.key"))) {
            try KeyFile.readPrivateKeys(at: [scratch.path("user.key"), scratch.path("missing.key"), scratch.path("other.key")], passphrase: passphrase)
        }
    }

    @Test func unencryptedAndForeignFilesAreRefused() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let plain = try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", scratch.path("plain.key")])
        #expect(plain.status == 0)
        let text = try String(contentsOfFile: scratch.path("plain.key"), encoding: .utf8)
        #expect(throws: PKIError.unencryptedPrivateKey) { try EncryptedPrivateKey.decrypt(pem: text, passphrase: passphrase) }
        #expect(throws: PKIError.notPEM(expected: "ENCRYPTED PRIVATE KEY or PRIVATE KEY or RSA PRIVATE KEY")) {
            try EncryptedPrivateKey.decrypt(pem: "hello", passphrase: passphrase)
        }
        #expect(throws: PKIError.self) { try EncryptedPrivateKey.decrypt(pem: userKey.publicKey.spkiPEM, passphrase: passphrase) }
    }

    @Test func openSSLOpensOurKey() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let path = try scratch.write(try EncryptedPrivateKey.pem(for: userKey, passphrase: passphrase), to: "ours.key")
        let check = try openssl(["pkey", "-in", path, "-passin", "pass:correct horse battery staple", "-check", "-noout"])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.contains("Key is valid"))
        let wrong = try openssl(["pkey", "-in", path, "-passin", "pass:nope", "-noout"])
        #expect(wrong.status != 0)
        let pub = try openssl(["pkey", "-in", path, "-passin", "pass:correct horse battery staple", "-pubout"])
        #expect(try RSA.PublicKey(spkiPEM: pub.stdout) == userKey.publicKey)
    }

    /// Both encryptions openssl writes: genpkey -aes-256-cbc (PBKDF2) and pkcs8 -scrypt.
    @Test(arguments: [["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA256"], ["-scrypt", "-v2", "aes-256-cbc"]])
    func weOpenOpenSSLKeys(options: [String]) throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        #expect(try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", scratch.path("p.key")]).status == 0)
        let convert = try openssl(["pkcs8", "-topk8", "-in", scratch.path("p.key"), "-out", scratch.path("e.key"), "-passout", "pass:s3cret"] + options)
        #expect(convert.status == 0, "\(convert.stderr)")
        let pem = try String(contentsOfFile: scratch.path("e.key"), encoding: .utf8)
        let key = try EncryptedPrivateKey.decrypt(pem: pem, passphrase: SecretBytes(Array("s3cret".utf8)))
        let pub = try openssl(["pkey", "-in", scratch.path("p.key"), "-pubout"])
        #expect(try RSA.PublicKey(spkiPEM: pub.stdout) == key.publicKey)
        #expect(throws: PKIError.wrongPassphrase) {
            try EncryptedPrivateKey.decrypt(pem: pem, passphrase: SecretBytes(Array("S3cret".utf8)))
        }
        let digest = SHA256.hash(data: [1])
        #expect(key.publicKey.isValidPSSSignature(try key.signPSS(digest: digest), for: digest))
    }

    @Test func genpkeyDefaultEncryptionOpens() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let made = try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc",
                                "-pass", "pass:pw", "-out", scratch.path("g.key")])
        #expect(made.status == 0)
        let pem = try String(contentsOfFile: scratch.path("g.key"), encoding: .utf8)
        #expect(try EncryptedPrivateKey.decrypt(pem: pem, passphrase: SecretBytes(Array("pw".utf8))).publicKey.bitCount == 2048)
    }

    @Test func smallKeysFromOpenSSLAreRefused() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        #expect(try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-aes-256-cbc",
                             "-pass", "pass:pw", "-out", scratch.path("s.key")]).status == 0)
        let pem = try String(contentsOfFile: scratch.path("s.key"), encoding: .utf8)
        #expect(throws: PKIError.self) { try EncryptedPrivateKey.decrypt(pem: pem, passphrase: SecretBytes(Array("pw".utf8))) }
    }
}
