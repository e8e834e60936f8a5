import Foundation
import GcryptKit
import SealPKI
import Synchronization
import Testing
@testable import SealToken

/// Keys generated on and imported into a real SoftHSM token: what they sign verifies with
/// the public key in libgcrypt, what libgcrypt wraps they unwrap, and the token holds them as
/// sealdrop asked (sensitive, never extractable, each to its use).
@Suite struct TokenKeyTests {
    static let digest = SHA256.hash(data: Array("a transcript".utf8))

    @Test func aGeneratedKeySignsAndUnwrapsAsAKeyInMemoryWould() throws {
        let token = try SoftHSM.token("keys")
        let key = try TokenKey.generate(on: token, label: "user", usage: .signAndDecrypt, size: .bits2048)
        #expect(key.publicKey.bitCount == 2048)

        let signature = try key.signPSS(digest: Self.digest)
        #expect(key.publicKey.isValidPSSSignature(signature, for: Self.digest))
        #expect(!key.publicKey.isValidPSSSignature(signature, for: SHA256.hash(data: Array("another".utf8))))

        let contentKey = SecretBytes(randomCount: 32)
        let label = Array("a header digest".utf8)
        let wrapped = try key.publicKey.encryptOAEP(contentKey, label: label)
        #expect(try key.decryptOAEP(wrapped, label: label).bytes == contentKey.bytes)
        // SoftHSM 2.6 lists OAEP but only with SHA-1 and no label: the key decrypts raw and
        // sealdrop decodes.
        #expect(token.oaepMode() == .raw)

        // Every failure is the one authentication failure: a wrong label, each flipped byte
        // position class, an unreduced or short ciphertext.
        #expect(throws: CryptoError.authenticationFailure) { try key.decryptOAEP(wrapped, label: Array("other".utf8)) }
        for index in [0, 1, wrapped.count / 2, wrapped.count - 1] {
            var tampered = wrapped
            tampered[index] ^= 0x01
            #expect(throws: CryptoError.authenticationFailure) { try key.decryptOAEP(tampered, label: label) }
        }
        #expect(throws: CryptoError.authenticationFailure) { try key.decryptOAEP([UInt8](repeating: 0xFF, count: wrapped.count), label: label) }
        #expect(throws: CryptoError.authenticationFailure) { try key.decryptOAEP(Array(wrapped.dropLast()), label: label) }
    }

    @Test func aGeneratedKeyNeverLeavesTheToken() throws {
        let token = try SoftHSM.token("keys")
        let key = try TokenKey.generate(on: token, label: "kept", usage: .sign, size: .bits2048)
        #expect(try key.protection() == TokenKey.Protection(sensitive: true, extractable: false, neverExtractable: true))
        #expect(try key.readableComponents() == [])
        // Found again by its URI, in a fresh lookup.
        let found = try TokenKey.find(key.uri, on: token)
        #expect(found.publicKey == key.publicKey)
        #expect(try PKCS11URI(parsing: key.uri.description) == key.uri)
    }

    @Test func eachKeyDoesOnlyItsJob() throws {
        let token = try SoftHSM.token("usage")
        let signing = try TokenKey.generate(on: token, label: "ca", usage: .sign, size: .bits2048)
        let decrypting = try TokenKey.generate(on: token, label: "encryption", usage: .decrypt, size: .bits2048)
        let wrapped = try signing.publicKey.encryptOAEP(SecretBytes(randomCount: 32), label: [])
        #expect(throws: TokenError.call(function: "C_DecryptInit", result: "CKR_KEY_FUNCTION_NOT_PERMITTED", token: "usage")) {
            try signing.decryptOAEP(wrapped, label: [])
        }
        #expect(throws: TokenError.call(function: "C_SignInit", result: "CKR_KEY_FUNCTION_NOT_PERMITTED", token: "usage")) {
            try decrypting.signPSS(digest: Self.digest)
        }
    }

    @Test func anImportedKeyActsAsItsFile() throws {
        let token = try SoftHSM.token("import")
        let file = try RSA.PrivateKey.generate(size: .bits2048)
        let key = try TokenKey.importKey(file, to: token, label: "moved", usage: .signAndDecrypt)
        #expect(key.publicKey == file.publicKey)
        #expect(try key.protection().sensitive && !key.protection().extractable)
        #expect(file.publicKey.isValidPSSSignature(try key.signPSS(digest: Self.digest), for: Self.digest))
        let contentKey = SecretBytes(randomCount: 32)
        let wrapped = try file.publicKey.encryptOAEP(contentKey, label: [1, 2, 3])
        #expect(try key.decryptOAEP(wrapped, label: [1, 2, 3]).bytes == file.decryptOAEP(wrapped, label: [1, 2, 3]).bytes)

        try key.destroy()
        #expect(throws: TokenError.keyNotFound(key.uri.description)) { try TokenKey.find(key.uri, on: token) }
        #expect(try key.halves().isEmpty, "the public half was left behind")
    }

    @Test func keysShareTheTokenAcrossThreads() throws {
        let token = try SoftHSM.token("parallel")
        let key = try TokenKey.generate(on: token, label: "busy", usage: .signAndDecrypt, size: .bits2048)
        let keys = (0..<16).map { _ in SecretBytes(randomCount: 32) }
        let wrapped = try keys.map { try key.publicKey.encryptOAEP($0, label: []) }
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: keys.count) { i in
            let unwrapped = (try? key.decryptOAEP(wrapped[i], label: []))?.bytes
            let signed = (try? key.signPSS(digest: Self.digest)).map { key.publicKey.isValidPSSSignature($0, for: Self.digest) } ?? false
            if unwrapped != keys[i].bytes || !signed { failures.withLock { $0 += 1 } }
        }
        #expect(failures.withLock { $0 } == 0)
    }

    @Test func openSSLVerifiesWhatTheTokenSigns() throws {
        let token = try SoftHSM.token("openssl")
        let caKey = try TokenKey.generate(on: token, label: "ca", usage: .sign)
        let authority = try CertificateAuthority.create(key: caKey)
        let userKey = try RSA.PrivateKey.generate(size: .bits2048)
        let user = try authority.issue(commonName: "alice", publicKey: userKey.publicKey, profile: .user)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-token-openssl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try authority.certificate.pem.write(toFile: directory + "/ca.crt", atomically: true, encoding: .utf8)
        try user.pem.write(toFile: directory + "/alice.crt", atomically: true, encoding: .utf8)
        let verified = try run("openssl", ["verify", "-x509_strict", "-CAfile", directory + "/ca.crt", directory + "/alice.crt"])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        let selfSigned = try run("openssl", ["verify", "-x509_strict", "-CAfile", directory + "/ca.crt", directory + "/ca.crt"])
        #expect(selfSigned.status == 0, "\(selfSigned.stdout) \(selfSigned.stderr)")
    }
}

/// What an operator is told when something about the token is wrong.
@Suite struct TokenErrorTests {
    @Test func aWrongPINIsSaidSoAndTheRightOneStillWorks() throws {
        let token = try TokenModule.load(SoftHSM.module).token(labelled: "pin")
        do {
            try token.login(pin: SecretBytes(Array("654321".utf8)))
            Issue.record("a wrong PIN logged in")
        } catch TokenError.wrongPIN(let label, _) {
            #expect(label == "pin")
        }
        try token.login(pin: SoftHSM.pin)
    }

    @Test func aMissingTokenNamesTheTokensPresent() throws {
        do {
            _ = try TokenModule.load(SoftHSM.module).token(labelled: "nowhere")
            Issue.record("a token that does not exist was found")
        } catch let error as TokenError {
            guard case .tokenNotFound(let label, let module, let present) = error else { throw error }
            #expect(label == "nowhere" && module == SoftHSM.module)
            #expect(Set(SoftHSM.labels).isSubset(of: present))
            #expect(error.description.contains("no token labelled \"nowhere\""))
        }
    }

    @Test func aMissingKeyNamesItsURI() throws {
        let token = try SoftHSM.token("labels")
        let uri = PKCS11URI(token: "labels", object: "absent", modulePath: SoftHSM.module)
        #expect(throws: TokenError.keyNotFound(uri.description)) { try TokenKey.find(uri, on: token) }
    }

    @Test func aLabelIsNotTakenTwice() throws {
        let token = try SoftHSM.token("labels")
        _ = try TokenKey.generate(on: token, label: "once", usage: .sign, size: .bits2048)
        #expect(throws: TokenError.keyExists(token: "labels", label: "once")) {
            try TokenKey.generate(on: token, label: "once", usage: .sign, size: .bits2048)
        }
    }

    @Test func aModuleThatIsNotOneIsRefused() throws {
        #expect(throws: TokenError.self) { try TokenModule.load("relative/libsofthsm2.so") }
        #expect(throws: TokenError.self) { try TokenModule.load("/nonexistent/module.so") }
        // A real shared library without C_GetFunctionList.
        do {
            _ = try TokenModule.load("/lib/x86_64-linux-gnu/libz.so.1")
        } catch TokenError.moduleNotLoaded(_, let reason) {
            #expect(reason.contains("C_GetFunctionList") || reason.contains("No such file"))
        }
    }
}
