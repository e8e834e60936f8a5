import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
@testable import DropProtocol
@testable import SealServer

/// Bundle drops (FORMAT.md §13): one inbox file carrying several envelopes, each examined,
/// stored, refused and answered as if it had come alone.
@Suite(.serialized) struct BundleIngestTests {
    static let images = ["coffee.gif", "chelsea.webp", "horse.png", "rocket.jpg", "camera.png"]

    /// The envelopes of `images`, sealed by `user` with one batch key, in memory.
    func envelopes(_ server: TestServer, _ images: [String] = images, as user: String = "alice",
                   kind: EnvelopeKind = .image) throws -> [[UInt8]] {
        var sealer = EnvelopeSealer(signer: server.signers[user]!, recipient: RSARecipient(key: server.encryption.publicKey))
        sealer.batchKey = try BatchKey(recipient: sealer.recipient, sender: server.signers[user]!.certificate)
        return try images.map { image in
            var source = try FileSource(path: fixturesDirectory.appendingPathComponent("images/\(image)").path)
            var sink = MemorySink()
            _ = try sealer.seal(from: &source, to: &sink, name: image, kind: kind,
                                mediaType: kind == .message ? "application/vnd.sealdrop.note+json" : nil)
            return sink.bytes
        }
    }

    func bundle(_ members: [[UInt8]]) -> [UInt8] {
        Bundle.header(lengths: members.map(\.count)) + members.flatMap { $0 }
    }

    func blob(_ server: TestServer, _ name: String) throws -> [UInt8] {
        let image = try #require(try server.catalogue.image(named: name))
        return try KeyFile.readBytes(BlobStore(directory: server.root.blobs).path(for: image.blob), limit: 1 << 24, followSymlinks: false)
    }

    @Test func aBundleIsIngestedEnvelopeByEnvelope() throws {
        let server = try TestServer()
        let members = try envelopes(server)
        try server.dropRaw(bundle(members))
        let ingester = try server.ingester()
        let report = try ingester.runUntilEmpty()
        #expect(report.accepted == Self.images.count && report.quarantined == 0)
        #expect(ingester.identity.batchUnwraps == 1, "one RSA unwrap for the whole bundle")
        // Each stored blob is its envelope, byte for byte: nothing downstream knows a bundle carried it.
        for (image, member) in zip(Self.images, members) { #expect(try blob(server, image) == member) }
        #expect(try server.catalogue.notifications(after: 0).map(\.name) == Self.images)
        #expect(try server.inbox().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.root.work).isEmpty)
        // One acceptance note for the bundle, listing every envelope.
        let outbox = server.root.outbox(for: "alice")
        let notes = try FileManager.default.contentsOfDirectory(atPath: outbox)
        #expect(notes.count == 1 && notes[0].hasPrefix(Outbox.bundleAcceptancePrefix), "\(notes)")
        let note = try JSONDecoder().decode(BundleAcceptance.self, from: Data(contentsOf: URL(fileURLWithPath: "\(outbox)/\(notes[0])")))
        let ids = try members.map { var source = MemorySource($0); return try EnvelopeHeader.read(from: &source).envelopeID.hexString }
        #expect(note.envelopes.map(\.envelopeID) == ids)
        #expect(note.envelopes.map(\.name) == Self.images)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    @Test func aTamperedEnvelopeIsRefusedAloneAndKeptAsItCame() throws {
        let server = try TestServer()
        var members = try envelopes(server)
        members[2][members[2].count - 600] ^= 0x01
        try server.dropRaw(bundle(members))
        let report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 4 && report.quarantined == 1)
        #expect(try server.catalogue.image(named: "horse.png") == nil)
        for image in Self.images where image != "horse.png" { #expect(try server.catalogue.image(named: image) != nil) }
        // quarantine/ID-2 holds exactly the refused envelope, with a reason naming its place.
        let quarantined = try FileManager.default.contentsOfDirectory(atPath: server.root.quarantine)
        let file = try #require(quarantined.first { $0.hasSuffix("-2") })
        #expect(try KeyFile.readBytes("\(server.root.quarantine)/\(file)", limit: 1 << 24, followSymlinks: false) == members[2])
        let reason = try #require(try server.quarantineReasons().first)
        #expect(reason.key.hasSuffix("(envelope 3 of 5 in this bundle)") && reason.value.hasPrefix("did not verify"), "\(reason)")
        // alice hears of the refusal under that envelope's id, as for a drop of its own.
        var source = MemorySource(members[2])
        let id = try EnvelopeHeader.read(from: &source).envelopeID.hexString
        #expect(FileManager.default.fileExists(atPath: "\(server.root.outbox(for: "alice"))/" + Outbox.refusal(id: id)))
        #expect(try server.inbox().isEmpty)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    @Test func anIndexThatDoesNotDescribeTheFileRefusesTheWholeBundle() throws {
        let server = try TestServer()
        let members = try envelopes(server, ["coffee.gif", "horse.png"])
        let good = bundle(members)
        func withCount(_ count: UInt32) -> [UInt8] {
            var bytes = good
            bytes.replaceSubrange(9..<13, with: count.bigEndianBytes)
            return bytes
        }
        func withLength(_ index: Int, _ length: UInt64) -> [UInt8] {
            var bytes = good
            bytes.replaceSubrange(13 + 8 * index..<21 + 8 * index, with: length.bigEndianBytes)
            return bytes
        }
        var version = good
        version[8] = 2
        let hostile: [(String, [UInt8])] = [
            ("no envelope", withCount(0)), ("too many", withCount(1025)), ("more than it holds", withCount(3)),
            ("version", version), ("tiny member", withLength(0, 10)), ("past the end", withLength(1, UInt64(members[1].count + 1))),
            ("huge length", withLength(0, UInt64.max)), ("trailing byte", good + [0]), ("cut short", Array(good.prefix(20))),
            ("magic only", Bundle.magic),
        ]
        for (label, bytes) in hostile { try server.dropRaw(bytes, name: label) }
        let report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 0 && report.quarantined == hostile.count)
        let reasons = try server.quarantineReasons()
        #expect(reasons.count == hostile.count)
        for reason in reasons.values { #expect(reason.hasPrefix("unreadable bundle: "), "\(reason)") }
        #expect(try server.inbox().isEmpty)
    }

    @Test func aBundleCarriesImagesOnlyAndNoReplay() throws {
        let server = try TestServer()
        let images = try envelopes(server, ["coffee.gif", "horse.png"])
        let message = try envelopes(server, ["coffee.gif"], kind: .message)
        // The same envelope twice in one bundle, and a message among images.
        try server.dropRaw(bundle([images[0], images[0], message[0], images[1]]))
        var report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 2 && report.quarantined == 2)
        let reasons = try server.quarantineReasons().values.sorted()
        #expect(reasons == ["a bundle carries images only; a request travels as a drop of its own", "replay: envelope id already seen"],
                "\(reasons)")
        // The whole bundle again: every envelope a replay.
        try server.dropRaw(bundle(images))
        report = try server.ingester().runUntilEmpty()
        #expect(report.accepted == 0 && report.quarantined == 2)
        #expect(try server.catalogue.notifications(after: 0).count == 2)
    }

    /// A crash after the commit, before the claim is released: the bundle's copy is seen
    /// again, every envelope recognised, nothing notified twice.
    @Test func aBundleCommittedBeforeACrashIsOnlyReleased() throws {
        let server = try TestServer()
        let bytes = bundle(try envelopes(server, ["coffee.gif", "horse.png", "rocket.jpg"]))
        let name = try server.dropRaw(bytes)
        _ = try server.ingester().runUntilEmpty()
        let image = try #require(try server.catalogue.image(named: "horse.png"))
        let id = try #require(try server.catalogue.seenInboxName(image.envelopeID, senderKey: image.senderKey))
        // Put the claim back as the crash would have left it.
        let queue = WorkQueue(directory: server.root.work, inbox: try DropDirectory(server.root.inboxNew))
        try Data(bytes).write(to: URL(fileURLWithPath: queue.dropPath(id)))
        var claimed = try #require(try WorkQueue.members(of: queue.dropPath(id), size: bytes.count))
        #expect(claimed.count == 3)
        claimed = claimed.sorted { $0.offset < $1.offset }
        let item = WorkQueue.Item(id: id, file: name, nameHex: Array(name.utf8).hexString, device: 0, inode: 0,
                                  size: bytes.count, sha256: SHA256.hash(data: bytes).hex, members: claimed)
        try JSONEncoder().encode(item).write(to: URL(fileURLWithPath: queue.notePath(id)))
        let report = try server.ingester().runUntilEmpty()
        #expect(report.alreadyIngested == 3 && report.quarantined == 0 && report.accepted == 0)
        #expect(try server.catalogue.notifications(after: 0).count == 3)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    /// The next batch is examined while the one before commits, so it cannot see that
    /// batch's rows: the commit checks again, and a replay or a taken name across the two is
    /// still refused.
    @Test func aBatchExaminedDuringTheCommitBeforeItStillSeesItsRows() throws {
        let server = try TestServer()
        let first = try server.drop("coffee.gif", as: "alice", name: "mine.gif")
        let copy = try KeyFile.readBytes("\(server.root.inboxNew)/\(first)", limit: 1 << 24, followSymlinks: false)
        try server.drop("horse.png", as: "bob", name: "mine.gif")
        try server.dropRaw(copy, name: "replayed.seal")
        try server.drop("rocket.jpg", as: "bob")
        var policy = IngestPolicy()
        policy.batchSize = 1
        let report = try server.ingester(policy: policy).runUntilEmpty()
        #expect(report.accepted == 2 && report.quarantined == 2)
        let reasons = try server.quarantineReasons().values.sorted()
        #expect(reasons == ["replay: envelope id already seen", "the name \"mine.gif\" belongs to alice"], "\(reasons)")
        #expect(try server.catalogue.image(named: "mine.gif")?.owner == "alice")
        #expect(try server.catalogue.notifications(after: 0).map(\.seq) == [1, 2])
        #expect(try server.inbox().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.root.work).isEmpty)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    /// Killed between a quarantine and the release of its claim: the copy is in quarantine,
    /// the entry still in the inbox. The next run removes the entry, and quarantines nothing twice.
    @Test func aDropQuarantinedBeforeACrashIsNotQuarantinedAgain() throws {
        let server = try TestServer()
        try server.dropRaw(Array("not an envelope at all".utf8), name: "junk")
        let ingester = try server.ingester()
        var report = Ingester.Report()
        let claimed = try ingester.nextBatch(into: &report)
        #expect(claimed.count == 1)
        try ingester.quarantine.reject(claimed[0], from: ingester.queue, reason: "neither an envelope nor a certificate request")
        let again = try server.ingester().runUntilEmpty()
        #expect(again.quarantined == 0)
        #expect(try server.quarantineReasons().count == 1)
        #expect(try server.inbox().isEmpty)
    }

    /// Killed while a committed claim was examined again (before its release): it was
    /// examined to the end once, so it is not set aside as a drop that stops the server.
    @Test func aCommittedClaimInterruptedIsReleasedNotSetAside() throws {
        let server = try TestServer()
        let bytes = bundle(try envelopes(server, ["coffee.gif", "horse.png"]))
        try server.dropRaw(bytes)
        _ = try server.ingester().runUntilEmpty()
        let image = try #require(try server.catalogue.image(named: "horse.png"))
        let id = try #require(try server.catalogue.seenInboxName(image.envelopeID, senderKey: image.senderKey))
        let queue = WorkQueue(directory: server.root.work, inbox: try DropDirectory(server.root.inboxNew))
        try Data(bytes).write(to: URL(fileURLWithPath: queue.dropPath(id)))
        let item = WorkQueue.Item(id: id, file: "bundle", nameHex: Array("bundle".utf8).hexString, device: 0, inode: 0,
                                  size: bytes.count, sha256: SHA256.hash(data: bytes).hex,
                                  members: try WorkQueue.members(of: queue.dropPath(id), size: bytes.count))
        // Its note under the examining mark's name, as a kill mid-examination leaves it.
        try JSONEncoder().encode(item).write(to: URL(fileURLWithPath: queue.markPath(id)))
        let report = try server.ingester().runUntilEmpty()
        #expect(report.alreadyIngested == 2 && report.quarantined == 0, "\(report)")
        #expect(try server.quarantineReasons().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.root.work).isEmpty)
    }

    /// --batch-size counts envelopes: a bundle weighs what it carries, and is never split;
    /// a batch's bytes are bounded too.
    @Test func theBatchSizeCountsABundlesEnvelopes() throws {
        let server = try TestServer()
        try server.dropRaw(bundle(try envelopes(server, ["coffee.gif", "horse.png", "rocket.jpg"])))
        try server.drop("camera.png", as: "bob")
        var policy = IngestPolicy()
        policy.batchSize = 2
        let ingester = try server.ingester(policy: policy)
        var report = Ingester.Report()
        let first = try ingester.nextBatch(into: &report)
        #expect(first.count == 1 && first[0].members?.count == 3)
        try ingester.process(first, into: &report)
        #expect(try ingester.runUntilEmpty().accepted == 1)
        #expect(report.accepted == 3)
        // And a batch's bytes: past the limit, one drop at a time (one always fits).
        policy.batchBytes = 1
        try server.drop("coffee.gif", as: "bob")
        try server.drop("chelsea.webp", as: "bob")
        let small = try server.ingester(policy: policy)
        let one = try small.nextBatch(into: &report)
        #expect(one.count == 1)
        try small.process(one, into: &report)
        #expect(try small.runUntilEmpty().accepted == 1)
    }
}
