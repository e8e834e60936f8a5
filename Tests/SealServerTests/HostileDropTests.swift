import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
@testable import DropProtocol
@testable import SealServer

/// Drops from anyone who can write the inbox (issue: no drop stops the server; what is
/// verified is what is stored). Every test here failed before the work queue existed.
@Suite struct HostileDropTests {
    /// Creates an inbox entry whose name is raw bytes, holding `bytes`.
    func dropNamed(_ name: [UInt8], _ bytes: [UInt8], in server: TestServer) throws {
        let fd = RawName(name).withCString { path in
            ("\(server.root.inboxNew)/" as String).withCString { directory in
                let dirfd = open(directory, O_RDONLY | O_DIRECTORY)
                defer { close(dirfd) }
                return openat(dirfd, path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            }
        }
        #expect(fd >= 0)
        try AtomicFile.writeAll(bytes, to: fd, path: "raw")
        close(fd)
    }

    func reasons(_ server: TestServer) throws -> [Quarantine.Reason] {
        try FileManager.default.contentsOfDirectory(atPath: server.root.quarantine).filter { $0.hasSuffix(".reason.json") }.map {
            try JSONDecoder().decode(Quarantine.Reason.self, from: Data(contentsOf: URL(fileURLWithPath: "\(server.root.quarantine)/\($0)")))
        }
    }

    /// One of each hostile drop beside good envelopes: every good one ingested, every hostile
    /// one quarantined under a short server-made name, with its original name escaped.
    @Test func hostileDropsAreQuarantinedAndTheRestIngested() throws {
        let server = try TestServer()
        for index in 0..<5 { try server.drop("coffee.gif", name: "good-\(index).gif") }
        try dropNamed(Array(repeating: UInt8(ascii: "j"), count: 250), Array("junk".utf8), in: server)
        try dropNamed([0x66, 0xFF, 0xFE, 0x2E, 0x73], Array("not utf-8".utf8), in: server)
        try dropNamed(Array("evil\n{\"level\":\"info\"}".utf8), Array("newline".utf8), in: server)
        try FileManager.default.createDirectory(atPath: "\(server.root.inboxNew)/adir/sub", withIntermediateDirectories: true)
        mkfifo("\(server.root.inboxNew)/fifo", 0o644)
        symlink(server.root.caKeyPath, "\(server.root.inboxNew)/link")
        link(server.root.encryptionKeyPath, "\(server.root.inboxNew)/hard")
        // A forged last line in the log: the server rebuilds the log from the catalogue.
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: server.root.notificationLogPath))
        log.seekToEndOfFile()
        log.write(Data("{\"seq\":999999,\"garbage\n".utf8))
        try log.close()

        let report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 5)
        #expect(report.quarantined == 7)
        #expect(try server.inbox().isEmpty)
        let found = try reasons(server)
        #expect(found.count == 7)
        for reason in found {
            let id = try #require(reason.id)
            #expect(id.utf8.count < 40)
            #expect(!reason.file.contains("\n") && !reason.file.unicodeScalars.contains { $0.value < 0x20 })
        }
        #expect(found.contains { $0.file == String(repeating: "j", count: 250) })
        #expect(found.contains { $0.file == "f\\xff\\xfe.s" })
        #expect(found.contains { $0.file == "evil\\u{a}{\"level\":\"info\"}" })
        #expect(found.contains { $0.file == "adir" && $0.reason == "a directory" })
        #expect(found.contains { $0.file == "hard" && $0.reason.contains("hard links") })
        let logged = try NotificationLog.records(at: server.root.notificationLogPath, after: 0)
        #expect(logged.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    /// Drops the process died examining in a batch (their marks left behind) are examined
    /// again at the next start, each alone; one the process dies examining alone is quarantined
    /// and never examined again. The others are ingested.
    @Test func aDropThatKilledTheIngesterTwiceIsQuarantined() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", name: "before.gif")
        try server.drop("horse.png", name: "innocent.png")
        let ingester = try server.ingester()
        var report = Ingester.Report()
        let batch = try ingester.nextBatch(into: &report)
        #expect(batch.count == 2)
        // An earlier attempt stored a copy and died before its commit; this one "dies" while
        // examining both: the marks stay, nothing else happens.
        try ingester.blobs.adopt(ingester.queue.dropPath(batch[0].id), hash: batch[0].sha256)
        batch.forEach(ingester.queue.markExamining)
        // The next start examines the first alone, and "dies" again.
        let again = try server.ingester()
        let retry = try again.nextBatch(into: &report)
        #expect(retry.count == 1 && retry[0].retry && batch.map(\.id).contains(retry[0].id))
        let culprit = try #require(retry.first)
        let (guilty, innocent) = culprit.id == batch[0].id ? ("before.gif", "innocent.png") : ("innocent.png", "before.gif")
        again.queue.markExamining(culprit)
        // A kill while a reason file was written leaves its temporary: the next run removes it.
        let temporary = "\(server.root.quarantine)/.sd-0123abcd.tmp"
        #expect(FileManager.default.createFile(atPath: temporary, contents: Data("{".utf8)))
        try server.drop("chelsea.webp", name: "after.webp")
        report = try server.ingester().runUntilEmpty()
        #expect(report.quarantined == 1 && report.accepted == 2)
        #expect(try server.catalogue.image(named: "after.webp") != nil && server.catalogue.image(named: innocent) != nil)
        #expect(try server.catalogue.image(named: guilty) == nil)
        #expect(!FileManager.default.fileExists(atPath: temporary))
        let reason = try #require(try reasons(server).first)
        #expect(reason.reason.contains("stopped twice while examining this drop"))
        #expect(reason.sender == nil)
        #expect(FileManager.default.fileExists(atPath: "\(server.root.quarantine)/\(culprit.id)"))
        // The stored copy of a drop nobody recorded is gone: no orphan, and the quarantined
        // file has one link, so it can be requeued.
        #expect(try Fsck(root: server.root).check().isEmpty)
        // The operator knows it was his kill: requeued, it is ingested like any drop.
        #expect(throws: Quarantine.RequeueFailure.self) { try Quarantine(root: server.root).requeue("../ca.key") }
        try Quarantine(root: server.root).requeue(culprit.id)
        report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 1)
        #expect(try server.catalogue.image(named: guilty) != nil)
    }

    /// A claim needs no fsync: its inbox entry stays until the drop is dealt with, and a copy a
    /// crash lost or damaged is found by its hash and claimed again from that entry.
    @Test func aDamagedClaimIsClaimedAgainFromItsInboxEntry() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", name: "kept.gif")
        let ingester = try server.ingester()
        var report = Ingester.Report()
        let batch = try ingester.nextBatch(into: &report)
        #expect(try batch.count == 1 && server.inbox().count == 1, "the entry stays while claimed")
        #expect(try ingester.nextBatch(into: &report).count == 1, "and is not claimed twice")
        // A crash lost the end of the copy.
        #expect(truncate(ingester.queue.dropPath(batch[0].id), 100) == 0)
        report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 1 && report.quarantined == 0)
        #expect(try server.inbox().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.root.work).isEmpty)
    }

    /// The writer keeps its drop open and changes it after the server took it: the stored blob
    /// is the copy that was verified, byte for byte, and its name is its hash.
    @Test func whatIsVerifiedIsWhatIsStored() throws {
        let server = try TestServer()
        let name = try server.drop("coffee.gif")
        let path = "\(server.root.inboxNew)/\(name)"
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let writer = open(path, O_WRONLY)
        #expect(writer >= 0)
        defer { close(writer) }
        _ = try server.ingester().runUntilEmpty()
        // Too late: flip a byte and append through the descriptor the writer kept.
        _ = pwrite(writer, [0x00], 1, off_t(original.count / 2))
        _ = pwrite(writer, [0x41, 0x42], 2, off_t(original.count))
        let image = try #require(try server.catalogue.image(named: "coffee.gif"))
        let blobs = BlobStore(directory: server.root.blobs)
        let stored = try [UInt8](Data(contentsOf: URL(fileURLWithPath: blobs.path(for: image.blob))))
        #expect(stored == original)
        #expect(try blobs.digest(of: image.blob) == image.blob)
    }

    /// A fetch of an image whose blob is missing, or whose blob is another envelope, gets an
    /// answer saying it is unavailable; it never stops the batch or re-wraps another key.
    @Test func aRowWhoseBlobIsNotItsEnvelopeIsNeverReWrapped() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "a.gif")
        try server.drop("chelsea.webp", as: "bob", name: "b.webp")
        _ = try server.ingester().runUntilEmpty()
        let a = try #require(try server.catalogue.image(named: "a.gif"))
        let b = try #require(try server.catalogue.image(named: "b.webp"))
        let blobs = BlobStore(directory: server.root.blobs)
        // Roll a's blob over to b's envelope: a row pointing at another user's blob.
        unlink(blobs.path(for: a.blob))
        link(blobs.path(for: b.blob), blobs.path(for: a.blob))
        let ingester = try server.ingester()
        #expect(throws: EnvelopeError.self) {
            _ = try ingester.storedContentKey(a, ownerCertificate: try #require(try server.catalogue.user(named: "alice")).certificate)
        }
        unlink(blobs.path(for: a.blob))
        #expect(throws: (any Error).self) {
            _ = try ingester.storedContentKey(a, ownerCertificate: try #require(try server.catalogue.user(named: "alice")).certificate)
        }
    }

    /// With umask 000, every directory of a new root has exactly its documented mode: none
    /// is world-writable without the sticky bit.
    @Test func modesAreSetNotInherited() throws {
        let old = umask(0)
        defer { umask(old) }
        let server = try TestServer(users: [])
        for (directory, mode) in ServerRoot.layout {
            var info = stat()
            #expect(lstat(directory.isEmpty ? server.root.path : "\(server.root.path)/\(directory)", &info) == 0)
            #expect(info.st_mode & 0o7777 == mode, "\(directory)")
            if info.st_mode & 0o002 != 0 { #expect(info.st_mode & 0o1000 != 0, "\(directory)") }
        }
        for file in [server.root.caKeyPath, server.root.encryptionKeyPath, server.root.deliveryKeyPath] {
            var info = stat()
            #expect(lstat(file, &info) == 0 && info.st_mode & 0o077 == 0)
        }
    }
}
