import Foundation
import Testing
@testable import SealServer

/// Every storage behaviour on an in-memory and an on-disk database.
@Suite struct CatalogueTests {
    static func make(_ kind: String) throws -> (Catalogue, () -> Void) {
        if kind == "memory" { return (try Catalogue(), {}) }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("catalogue-\(UUID().uuidString).sqlite").path
        return (try Catalogue(path: path), {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        })
    }

    func image(_ name: String, owner: String, id: UInt8, inbox: String = "f") -> ImageRecord {
        ImageRecord(name: name, owner: owner, mediaType: "image/png", width: 1, height: 1, size: 10, blob: "b\(id)",
                    envelopeID: [UInt8](repeating: id, count: 16), createdAt: Date(), ingestedAt: Date(), inboxName: inbox)
    }

    @Test(arguments: ["memory", "disk"])
    func users(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        try catalogue.addUser(name: "alice", certificate: [1], fingerprint: "A")
        #expect(throws: Catalogue.Failure.nameTaken("alice")) { try catalogue.addUser(name: "alice", certificate: [2], fingerprint: "B") }
        try catalogue.revoke(name: "alice")
        #expect(try catalogue.user(named: "alice")?.revokedAt != nil)
        #expect(throws: Catalogue.Failure.noSuchUser("zed")) { try catalogue.revoke(name: "zed") }
        #expect(try catalogue.users().map(\.name) == ["alice"])
    }

    @Test(arguments: ["memory", "disk"])
    func batchesRefuseReplaysAndForeignNamesAndNumberWithoutGaps(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        try catalogue.addUser(name: "alice", certificate: [1], fingerprint: "A")
        try catalogue.addUser(name: "bob", certificate: [2], fingerprint: "B")
        let refused = try catalogue.record([
            image("a.png", owner: "alice", id: 1), image("b.png", owner: "bob", id: 2),
            image("a.png", owner: "bob", id: 3), image("c.png", owner: "alice", id: 1),
        ])
        #expect(refused == [2: .nameOwnedBy("alice"), 3: .replay])
        #expect(try catalogue.notifications(after: 0).map(\.seq) == [1, 2])
        // The owner may post a new version under the same name.
        #expect(try catalogue.record([image("a.png", owner: "alice", id: 4)]).isEmpty)
        #expect(try catalogue.notifications(after: 0).map(\.seq) == [1, 2, 3])
        #expect(try catalogue.notifications(after: 2).map(\.name) == ["a.png"])
        #expect(try catalogue.seenInboxName([UInt8](repeating: 1, count: 16)) == "f")
        #expect(try catalogue.seenInboxName([UInt8](repeating: 9, count: 16)) == nil)
        #expect(try catalogue.isBlobReferenced("b4"))
        #expect(try !catalogue.isBlobReferenced("b1"), "replaced by the newer version")
        #expect(try catalogue.counts().images == 2)
    }
}
