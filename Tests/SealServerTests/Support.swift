import Foundation
import GcryptKit
import GRDB
import Logging
import SealEnvelope
import SealPKI
@testable import DropProtocol
@testable import SealServer

let fixturesDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

let serverPassphrase = SecretBytes(Array("server pass".utf8))
let quietLogger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

/// A server root with registered users, in a temporary directory.
final class TestServer: @unchecked Sendable {
    let url: URL
    let root: ServerRoot
    let authority: CertificateAuthority
    let catalogue: Catalogue
    let encryption: Certificate
    var signers: [String: RSASigner] = [:]

    init(users: [String] = ["alice", "bob"]) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-server-\(UUID().uuidString)")
        root = ServerRoot(path: url.path)
        _ = try root.initialize(keys: .files(passphrase: serverPassphrase), keySize: .bits2048)
        authority = try root.authority(secret: serverPassphrase)
        catalogue = try root.catalogue()
        encryption = try root.encryptionCertificate()
        for user in users {
            let key = try Self.keys[user] ?? RSA.PrivateKey.generate(size: .bits2048)
            let request = try CertificateRequest(userName: UserName(user), key: key)
            signers[user] = try RSASigner(key: key, certificate: root.issue(request, by: authority, in: catalogue))
        }
    }

    /// User keys are reused across tests: generation is the slow part.
    static let keys: [String: RSA.PrivateKey] = [
        "alice": try! RSA.PrivateKey.generate(size: .bits2048), "bob": try! RSA.PrivateKey.generate(size: .bits2048),
    ]

    deinit { try? FileManager.default.removeItem(at: url) }

    func ingester(policy: IngestPolicy = IngestPolicy()) throws -> Ingester {
        try Ingester(root: root, secret: serverPassphrase, policy: policy, logger: quietLogger)
    }

    /// Seals `image` as `user` under `name` straight into the inbox; returns the inbox name.
    @discardableResult
    func drop(_ image: String = "coffee.gif", as user: String = "alice", name: String? = nil, now: Date = Date(),
              recipient: RSA.PublicKey? = nil, batchKey: BatchKey? = nil) throws -> String {
        var sealer = EnvelopeSealer(signer: signers[user]!, recipient: RSARecipient(key: recipient ?? encryption.publicKey))
        sealer.batchKey = batchKey
        let inboxName = Inbox.uniqueName(suffix: ".seal")
        var source = try FileSource(path: fixturesDirectory.appendingPathComponent("images/\(image)").path)
        var sink = try FileSink(path: "\(root.inboxTemporary)/\(inboxName)")
        _ = try sealer.seal(from: &source, to: &sink, name: name ?? image, now: now)
        try sink.commit()
        try Inbox.publish(inboxName, in: root)
        return inboxName
    }

    @discardableResult
    func dropRaw(_ bytes: [UInt8], name: String = Inbox.uniqueName(suffix: ".seal")) throws -> String {
        try Inbox.drop(bytes, into: root, suffix: "")
    }

    func quarantineReasons() throws -> [String: String] {
        var reasons: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: root.quarantine) where file.hasSuffix(".reason.json") {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(root.quarantine)/\(file)"))
            let reason = try JSONDecoder().decode(Quarantine.Reason.self, from: data)
            reasons[reason.file] = reason.reason
        }
        return reasons
    }

    func inbox() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: root.inboxNew) }
}

extension Catalogue {
    /// The database of a SQLite catalogue (`Catalogue(path:)`, `Catalogue()`): what a test
    /// reads or damages behind the catalogue's back.
    var writer: any DatabaseWriter { (store as! SQLiteStore).writer }
}
/// A store that runs `between` once, on the store it wraps, right after the first
/// `notifications(after:)` answers: another node committing at that moment.
final class InterleavedStore: CatalogueStore, @unchecked Sendable {
    let inner: any CatalogueStore
    private var between: ((any CatalogueStore) throws -> Void)?

    init(_ inner: any CatalogueStore, between: @escaping (any CatalogueStore) throws -> Void) {
        self.inner = inner
        self.between = between
    }

    func notifications(after seq: Int) throws -> [NotificationRecord] {
        let answer = try inner.notifications(after: seq)
        if let between {
            self.between = nil
            try between(inner)
        }
        return answer
    }

    var location: String { inner.location }
    var isShared: Bool { inner.isShared }
    func authority() throws -> String? { try inner.authority() }
    func bind(authority fingerprint: String) throws -> String { try inner.bind(authority: fingerprint) }
    func addUser(name: String, certificate: [UInt8], fingerprint: String, keyFingerprint: String, at time: Date) throws {
        try inner.addUser(name: name, certificate: certificate, fingerprint: fingerprint, keyFingerprint: keyFingerprint, at: time)
    }
    func user(named name: String) throws -> UserRecord? { try inner.user(named: name) }
    func users() throws -> [UserRecord] { try inner.users() }
    func revoke(name: String, at time: Date) throws -> Date? { try inner.revoke(name: name, at: time) }
    func replaceCertificate(name: String, certificate: [UInt8], fingerprint: String) throws {
        try inner.replaceCertificate(name: name, certificate: certificate, fingerprint: fingerprint)
    }
    func revokedKeyOwner(_ key: String) throws -> String? { try inner.revokedKeyOwner(key) }
    func record(_ images: [ImageRecord], blobs: BlobStore?, beforeCommit: (LogHead.Position?) throws -> Void) throws -> [Int: Catalogue.Refusal] {
        try inner.record(images, blobs: blobs, beforeCommit: beforeCommit)
    }
    func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date) throws -> Bool {
        try inner.markSeen(id, senderKey: senderKey, sender: sender, inboxName: inboxName, at: time)
    }
    func hasEnvelopes(fromClaim id: String) throws -> Bool { try inner.hasEnvelopes(fromClaim: id) }
    func seenInboxName(_ id: [UInt8], senderKey: String) throws -> String? { try inner.seenInboxName(id, senderKey: senderKey) }
    func image(named name: String) throws -> ImageRecord? { try inner.image(named: name) }
    func images() throws -> [ImageRecord] { try inner.images() }
    func blobGarbage() throws -> [String] { try inner.blobGarbage() }
    func forgetBlob(_ blob: String) throws { try inner.forgetBlob(blob) }
    func isBlobReferenced(_ hash: String) throws -> Bool { try inner.isBlobReferenced(hash) }
    func readBlob(_ hash: String, _ body: ([UInt8]) throws -> Void) throws -> Bool { try inner.readBlob(hash, body) }
    func storedBlobs() throws -> [String] { try inner.storedBlobs() }
    func changes() -> CatalogueChanges? { inner.changes() }
    func report(_ node: NodeReport) throws { try inner.report(node) }
    func nodes() throws -> [NodeReport] { try inner.nodes() }
    func notificationPosition() throws -> LogHead.Position { try inner.notificationPosition() }
    func lineHash(seq: Int) throws -> String? { try inner.lineHash(seq: seq) }
    func counts() throws -> Catalogue.Counts { try inner.counts() }
}
