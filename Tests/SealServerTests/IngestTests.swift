import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
@testable import DropProtocol
@testable import SealServer

@Suite(.serialized) struct IngestTests {
    @Test func acceptsStoresNotifiesAndKeepsNoPlaintext() throws {
        let server = try TestServer()
        try server.drop("coffee.gif")
        try server.drop("horse.png", as: "bob")
        let report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 2 && report.quarantined == 0)
        #expect(try server.inbox().isEmpty)
        let images = try server.catalogue.images()
        #expect(images.map(\.name) == ["coffee.gif", "horse.png"])
        #expect(images.first?.size == 38_956 && images.first?.owner == "alice")
        let log = try NotificationLog.records(at: server.root.notificationLogPath, after: 0)
        #expect(log.map(\.seq) == [1, 2])
        #expect(try Fsck(root: server.root).check().isEmpty)
        // No file under the root contains a run of the image's bytes.
        let plain = try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent("images/coffee.gif")))
        let probe = Data(plain[2000..<2064])
        let files = FileManager.default.enumerator(atPath: server.root.path)!.compactMap { $0 as? String }
        for file in files {
            guard let data = FileManager.default.contents(atPath: server.root.path + "/" + file) else { continue }
            #expect(data.range(of: probe) == nil, "\(file) holds plaintext")
        }
    }

    @Test func hostileDropsAreQuarantinedWithReasons() throws {
        let server = try TestServer()
        var policy = IngestPolicy()
        policy.maximumBytes = 1 << 20
        let inbox = server.root.inboxNew
        symlink("/etc/passwd", "\(inbox)/link")
        try FileManager.default.createDirectory(atPath: "\(inbox)/folder", withIntermediateDirectories: false)
        FileManager.default.createFile(atPath: "\(inbox)/empty", contents: Data())
        FileManager.default.createFile(atPath: "\(inbox)/junk", contents: Data((0..<500).map { UInt8($0 % 251) }))
        FileManager.default.createFile(atPath: "\(inbox)/huge", contents: Data(count: (1 << 20) + 1))
        FileManager.default.createFile(atPath: "\(inbox)/fake.seal", contents: Data("SEALDROP\u{1}\u{1}\u{1}\u{0}garbage".utf8))
        let good = try server.drop("coffee.gif")
        let report = try server.ingester(policy: policy).runUntilEmpty()
        #expect(report.accepted == 1 && report.quarantined == 6)
        let reasons = try server.quarantineReasons()
        #expect(reasons["link"]?.contains("symbolic link") == true)
        #expect(reasons["folder"]?.contains("directory") == true)
        #expect(reasons["empty"]?.contains("empty") == true)
        #expect(reasons["junk"]?.contains("neither an envelope") == true)
        #expect(reasons["huge"]?.contains("limit") == true)
        #expect(reasons["fake.seal"] != nil)
        #expect(reasons[good] == nil)
        // The symlink was moved, not followed: its target is untouched.
        #expect(FileManager.default.fileExists(atPath: "/etc/passwd"))
        #expect(try server.inbox().isEmpty)
    }

    @Test func replaysAndStaleEnvelopesAreQuarantined() throws {
        let server = try TestServer()
        let first = try server.drop("coffee.gif")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(server.root.inboxNew)/\(first)")))
        _ = try server.ingester().runUntilEmpty()
        let again = try server.dropRaw(bytes)
        let old = try server.drop("horse.png", now: Date().addingTimeInterval(-3 * 24 * 3600))
        let future = try server.drop("rocket.jpg", now: Date().addingTimeInterval(3600))
        let report = try server.ingester().runUntilEmpty()
        #expect(report.quarantined == 3 && report.accepted == 0)
        let reasons = try server.quarantineReasons()
        #expect(reasons[again]?.hasPrefix("replay") == true)
        #expect(reasons[old]?.hasPrefix("stale") == true)
        #expect(reasons[future]?.contains("future") == true)
        // The sender is told why, in its outbox, beside the note that the first was accepted.
        let told = try FileManager.default.contentsOfDirectory(atPath: server.root.outbox(for: "alice"))
        #expect(told.filter { $0.hasPrefix("rejected-") }.count == 3)
        #expect(told.filter { $0.hasPrefix("accepted-") }.count == 1, "\(told)")
    }

    @Test func refusesStrangersRevokedUsersForeignNamesAndTampering() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "shared.gif")
        _ = try server.ingester().runUntilEmpty()
        let taken = try server.drop("horse.png", as: "bob", name: "shared.gif")
        let wrongRecipient = try server.drop("horse.png", as: "bob", name: "x.png", recipient: TestServer.keys["alice"]!.publicKey)
        let tamperedName = try server.drop("rocket.jpg", as: "bob")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(server.root.inboxNew)/\(tamperedName)")))
        bytes[bytes.count - 600] ^= 1
        try Data(bytes).write(to: URL(fileURLWithPath: "\(server.root.inboxNew)/\(tamperedName)"))
        // A stranger: a certificate from another CA.
        let strangerCA = try CertificateAuthority.create(key: TestServer.keys["bob"]!)
        let strangerKey = TestServer.keys["alice"]!
        let stranger = try RSASigner(key: strangerKey, certificate: strangerCA.issue(commonName: "alice", publicKey: strangerKey.publicKey, profile: .user))
        server.signers["stranger"] = stranger
        let fromStranger = try server.drop("camera.png", as: "stranger")
        try server.catalogue.revoke(name: "alice")
        let revoked = try server.drop("camera.png", as: "alice", name: "late.png")
        let report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 0 && report.quarantined == 5)
        let reasons = try server.quarantineReasons()
        #expect(reasons[taken]?.contains("belongs to alice") == true)
        #expect(reasons[wrongRecipient]?.hasPrefix("did not verify") == true)
        #expect(reasons[tamperedName]?.hasPrefix("did not verify") == true)
        #expect(reasons[fromStranger]?.contains("unknown sender") == true)
        #expect(reasons[revoked]?.contains("revoked") == true)
        // Every authentication failure reads the same to the sender.
        let outbox = server.root.outbox(for: "bob")
        let told = try FileManager.default.contentsOfDirectory(atPath: outbox).compactMap {
            try JSONDecoder().decode(Quarantine.Reason.self, from: Data(contentsOf: URL(fileURLWithPath: "\(outbox)/\($0)"))).reason
        }
        #expect(told.filter { $0 == Ingester.notVerified }.count == 2)
        // alice's image stays listed after her revocation.
        #expect(try server.catalogue.image(named: "shared.gif")?.owner == "alice")
    }

    /// A crash after the commit but before the claimed copy is removed: the copy is seen
    /// again, recognised, and removed without a second notification or a replay quarantine.
    @Test func crashLeftoverIsRemovedNotReingested() throws {
        let server = try TestServer()
        let name = try server.drop("coffee.gif")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(server.root.inboxNew)/\(name)"))
        _ = try server.ingester().runUntilEmpty()
        let image = try #require(try server.catalogue.image(named: "coffee.gif"))
        let id = try #require(try server.catalogue.seenInboxName(image.envelopeID, senderKey: image.senderKey))
        let queue = WorkQueue(directory: server.root.work, inbox: try DropDirectory(server.root.inboxNew))
        try bytes.write(to: URL(fileURLWithPath: queue.dropPath(id)))
        let item = WorkQueue.Item(id: id, file: name, nameHex: Array(name.utf8).hexString, device: 0, inode: 0,
                                  size: bytes.count, sha256: image.blob)
        try JSONEncoder().encode(item).write(to: URL(fileURLWithPath: queue.notePath(id)))
        let report = try server.ingester().runUntilEmpty()
        #expect(report.alreadyIngested == 1 && report.quarantined == 0 && report.accepted == 0)
        #expect(try server.catalogue.notifications(after: 0).count == 1)
        #expect(try server.inbox().isEmpty)
    }

    /// Two ingesters racing on one inbox (cron and watch) never take one file twice.
    @Test func concurrentIngestersNeverDoubleIngest() throws {
        let server = try TestServer()
        for i in 0..<20 { try server.drop("horse.png", name: "h\(i).png") }
        let a = try server.ingester(), b = try server.ingester()
        let reports = ReportBox()
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let report = try! (index == 0 ? a : b).runUntilEmpty()
            reports.add(report)
        }
        #expect(reports.total.accepted == 20 && reports.total.quarantined == 0)
        #expect(try server.catalogue.notifications(after: 0).map(\.seq) == Array(1...20))
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    @Test func registrationThroughTheDrop() throws {
        let server = try TestServer(users: [])
        let key = TestServer.keys["alice"]!
        let request = try CertificateRequest(userName: UserName("alice"), key: key)
        _ = try Inbox.drop(Array(request.pem.utf8), into: server.root, suffix: ".csr")
        let squatter = try CertificateRequest(userName: UserName("alice"), key: TestServer.keys["bob"]!)
        _ = try Inbox.drop(Array(squatter.pem.utf8), into: server.root, suffix: ".csr")
        let report = try server.ingester().runUntilEmpty()
        #expect(report.registered == 1 && report.quarantined == 1)
        let outbox = try FileManager.default.contentsOfDirectory(atPath: server.root.outbox(for: "alice")).sorted()
        let mine = String(key.publicKey.fingerprint.digest.hex.prefix(16))
        let theirs = String(TestServer.keys["bob"]!.publicKey.fingerprint.digest.hex.prefix(16))
        #expect(outbox == ["certificate-\(mine).crt", "registration-\(theirs).rejected.json"])
        let certificate = try Certificate(pem: KeyFile.readText("\(server.root.outbox(for: "alice"))/certificate-\(mine).crt"))
        try certificate.verify(issuedBy: server.authority.certificate, for: .digitalSignature, name: "alice")
    }
}

final class ReportBox: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var total = Ingester.Report()
    func add(_ report: Ingester.Report) {
        lock.withLock {
            total.accepted += report.accepted
            total.quarantined += report.quarantined
        }
    }
}
