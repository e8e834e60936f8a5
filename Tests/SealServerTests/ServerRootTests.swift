import Foundation
import GcryptKit
import SealPKI
@testable import DropProtocol
import SealServer
import Testing

@Suite struct ServerRootTests {
    let passphrase = SecretBytes(Array("server pass".utf8))

    func makeRoot() throws -> (ServerRoot, URL) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-root-\(UUID().uuidString)")
        return (ServerRoot(path: url.path), url)
    }

    @Test func initializeLaysOutTheRootWithSeparateKeys() throws {
        let (root, url) = try makeRoot()
        defer { try? FileManager.default.removeItem(at: url) }
        let created = try root.initialize(keys: .files(passphrase: passphrase), keySize: .bits2048)
        for directory in ["inbox/tmp", "inbox/new", "quarantine", "blobs", "outbox"] {
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: root.path + "/" + directory, isDirectory: &isDirectory) && isDirectory.boolValue)
        }
        for key in [root.caKeyPath, root.encryptionKeyPath] {
            let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(key)")
        }
        let authority = try root.authority(secret: passphrase)
        #expect(authority.certificate == created.authority)
        let encryptionKey = try KeyFile.readPrivateKey(at: root.encryptionKeyPath, passphrase: passphrase)
        #expect(encryptionKey.publicKey == created.encryption.publicKey)
        #expect(encryptionKey.publicKey != created.authority.publicKey, "the CA key must not double as the encryption key")
        try created.encryption.verify(issuedBy: created.authority, for: .keyEncipherment)
        #expect(throws: PKIError.self) { try created.encryption.verify(issuedBy: created.authority, for: .digitalSignature) }
        #expect(throws: ServerRoot.Failure.alreadyInitialized(root.path)) {
            try root.initialize(keys: .files(passphrase: passphrase), keySize: .bits2048)
        }
        #expect(throws: PKIError.wrongPassphrase) { try root.authority(secret: SecretBytes(Array("no".utf8))) }
    }

    @Test func issueRecordsTheNameOnce() throws {
        let (root, url) = try makeRoot()
        defer { try? FileManager.default.removeItem(at: url) }
        _ = try root.initialize(keys: .files(passphrase: passphrase), keySize: .bits2048)
        let authority = try root.authority(secret: passphrase)
        let key = try RSA.PrivateKey.generate(size: .bits2048)
        let request = try CertificateRequest(userName: UserName("erin"), key: key)
        let catalogue = try root.catalogue()
        let certificate = try root.issue(request, by: authority, in: catalogue)
        try certificate.verify(issuedBy: root.authorityCertificate(), for: .digitalSignature, name: "erin")
        let recorded = try #require(try catalogue.user(named: "erin"))
        #expect(recorded.certificate == certificate.der)
        #expect(throws: Catalogue.Failure.nameTaken("erin")) { try root.issue(request, by: authority, in: catalogue) }
    }

    @Test func uninitializedRootIsNamed() {
        let root = ServerRoot(path: "/nonexistent/sealdrop")
        #expect(throws: ServerRoot.Failure.notInitialized("/nonexistent/sealdrop")) { try root.authorityCertificate() }
    }
}
