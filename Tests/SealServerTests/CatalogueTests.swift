import ClusterSupport
import Foundation
import GcryptKit
import SealPKI
import SealEnvelope
import GRDB
import Testing
@testable import DropProtocol
@testable import SealServer

/// Every storage behaviour on every store: SQLite in memory and on disk, and a real
/// PostgreSQL (a throwaway cluster of Debian's postgresql, started by scripts/postgres for
/// the test and removed after it).
@Suite struct CatalogueTests {
    static let stores = ["memory", "disk", "postgres"]

    static func make(_ kind: String) throws -> (Catalogue, () -> Void) {
        switch kind {
        case "memory":
            return (try Catalogue(), {})
        case "postgres":
            let cluster = try PostgresCluster()
            do {
                return (Catalogue(store: try PostgresStore(url: cluster.url)), cluster.stop)
            } catch {
                cluster.stop()
                throw error
            }
        default:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("catalogue-\(UUID().uuidString).sqlite").path
            return (try Catalogue(path: path), {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            })
        }
    }

    static let authority = try! CertificateAuthority.create(key: TestServer.keys["alice"]!)
    /// A certificate for `user` with `key` (TestServer's keys: "alice" or "bob").
    static func certificate(_ user: String, key: String) throws -> [UInt8] {
        try authority.issue(commonName: user, publicKey: TestServer.keys[key]!.publicKey, profile: .user).der
    }

    func image(_ name: String, owner: String, id: UInt8, inbox: String = "f", blob: String? = nil) -> ImageRecord {
        ImageRecord(name: name, owner: owner, mediaType: "image/png", width: 1, height: 1, size: 10, blob: blob ?? "b\(id)",
                    envelopeID: [UInt8](repeating: id, count: 16), createdAt: Date(), ingestedAt: Date(), inboxName: inbox,
                    senderKey: "key-\(owner)")
    }

    /// Commits on disk are fsynced (synchronous FULL), not left to the next checkpoint as
    /// the pool's WAL default (NORMAL) would: the server deletes a drop once its row commits.
    @Test func commitsReachTheDisk() throws {
        let (catalogue, cleanup) = try Self.make("disk")
        defer { cleanup() }
        #expect(try catalogue.writer.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try catalogue.writer.writeWithoutTransaction { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
    }

    /// The first server to open a catalogue binds it to its CA; a root of another CA is refused.
    @Test(arguments: Self.stores)
    func aCatalogueBelongsToOneServer(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        #expect(try catalogue.store.authority() == nil)
        try catalogue.bind(authority: "AA:01")
        try catalogue.bind(authority: "AA:01")
        #expect(throws: Catalogue.Failure.belongsToAnotherServer(location: catalogue.location, authority: "AA:01")) {
            try catalogue.bind(authority: "BB:02")
        }
        #expect(try catalogue.store.authority() == "AA:01")
    }

    @Test(arguments: Self.stores)
    func users(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        try catalogue.addUser(name: "alice", certificate: Self.certificate("alice", key: "alice"), fingerprint: "A")
        #expect(throws: Catalogue.Failure.nameTaken("alice")) {
            try catalogue.addUser(name: "alice", certificate: Self.certificate("alice", key: "bob"), fingerprint: "B")
        }
        try catalogue.revoke(name: "alice")
        #expect(try catalogue.user(named: "alice")?.revokedAt != nil)
        #expect(throws: Catalogue.Failure.noSuchUser("zed")) { try catalogue.revoke(name: "zed") }
        // Revocation follows the key: alice's key cannot come back as "alice2".
        #expect(try catalogue.revokedKeyOwner(TestServer.keys["alice"]!.publicKey.fingerprint.description) == "alice")
        #expect(throws: Catalogue.Failure.keyRevoked("alice")) {
            try catalogue.addUser(name: "alice2", certificate: Self.certificate("alice2", key: "alice"), fingerprint: "C")
        }
        try catalogue.addUser(name: "bob", certificate: Self.certificate("bob", key: "bob"), fingerprint: "D")
        #expect(try catalogue.users().map(\.name) == ["alice", "bob"])
    }

    @Test(arguments: Self.stores)
    func batchesRefuseReplaysAndForeignNamesAndNumberWithoutGaps(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        try catalogue.addUser(name: "alice", certificate: Self.certificate("alice", key: "alice"), fingerprint: "A")
        try catalogue.addUser(name: "bob", certificate: Self.certificate("bob", key: "bob"), fingerprint: "B")
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
        #expect(try catalogue.seenInboxName([UInt8](repeating: 1, count: 16), senderKey: "key-alice") == "f")
        #expect(try catalogue.seenInboxName([UInt8](repeating: 1, count: 16), senderKey: "key-bob") == nil)
        #expect(try catalogue.seenInboxName([UInt8](repeating: 9, count: 16), senderKey: "key-alice") == nil)
        #expect(try catalogue.isBlobReferenced("b4"))
        #expect(try !catalogue.isBlobReferenced("b1"), "replaced by the newer version")
        #expect(try catalogue.counts().images == 2)
        // Ids are per sender key: bob using alice's id is no replay of hers.
        #expect(try catalogue.record([image("d.png", owner: "bob", id: 1)]).isEmpty)
        #expect(try catalogue.image(named: "d.png")?.owner == "bob")
    }

    /// What `beforeCommit` throws (the blobs could not be made durable) rolls the whole batch
    /// back; it is told the position the commit will make, or nil when nothing is added.
    @Test(arguments: Self.stores)
    func aFailureBeforeTheCommitRollsTheBatchBack(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        try catalogue.addUser(name: "alice", certificate: Self.certificate("alice", key: "alice"), fingerprint: "A")
        struct NotDurable: Error {}
        #expect(throws: NotDurable.self) {
            try catalogue.record([image("a.png", owner: "alice", id: 1), image("b.png", owner: "alice", id: 2)]) { _ in throw NotDurable() }
        }
        #expect(try catalogue.notificationPosition() == .start)
        #expect(try catalogue.image(named: "a.png") == nil && catalogue.seenInboxName([UInt8](repeating: 1, count: 16), senderKey: "key-alice") == nil)
        var told: [LogHead.Position?] = []
        #expect(try catalogue.record([image("a.png", owner: "alice", id: 1)]) { told.append($0) }.isEmpty)
        let position = try catalogue.notificationPosition()
        #expect(told == [position] && told[0]?.seq == 1)
        #expect(try catalogue.record([image("a.png", owner: "alice", id: 1)]) { told.append($0) } == [0: .replay])
        #expect(told.count == 2 && told[1] == nil)
    }

    /// A blob directory holding one blob of `size` random bytes; its hash and the directory.
    static func blobDirectory(size: Int) throws -> (BlobStore, String, [UInt8]) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("blobs-\(UUID().uuidString)").path
        let bytes = Random.bytes(count: size)
        let hash = SHA256.hash(data: bytes).hex
        let blobs = BlobStore(directory: directory)
        try ServerRoot.makeDirectory(directory, mode: 0o700)
        try ServerRoot.makeDirectory(blobs.shard(for: hash), mode: 0o700)
        try AtomicFile.write(bytes, to: blobs.path(for: hash))
        return (blobs, hash, bytes)
    }

    /// On PostgreSQL a blob commits with its row, in pieces, and any node restores it from
    /// there, checked; a rolled-back batch leaves none, a superseded one goes. SQLite keeps
    /// blobs in the root only.
    @Test(arguments: Self.stores)
    func blobsCommitWithTheirRows(kind: String) throws {
        let (catalogue, cleanup) = try Self.make(kind)
        defer { cleanup() }
        // Two and a half pieces.
        let (blobs, hash, bytes) = try Self.blobDirectory(size: 5 << 19)
        let (elsewhere, _, _) = try Self.blobDirectory(size: 1)
        defer { [blobs, elsewhere].forEach { try? FileManager.default.removeItem(atPath: $0.directory) } }
        try catalogue.addUser(name: "alice", certificate: Self.certificate("alice", key: "alice"), fingerprint: "A")
        let first = image("a.png", owner: "alice", id: 1, blob: hash)
        struct NotDurable: Error {}
        #expect(throws: NotDurable.self) { try catalogue.record([first], blobs: blobs) { _ in throw NotDurable() } }
        #expect(try catalogue.storedBlobs().isEmpty)
        #expect(try catalogue.record([first], blobs: blobs).isEmpty)
        #expect(catalogue.isShared == (kind == "postgres"))
        guard catalogue.isShared else {
            #expect(try catalogue.storedBlobs().isEmpty && catalogue.blobDigest(hash) == nil)
            #expect(try !catalogue.restoreBlob(hash, into: elsewhere))
            return
        }
        #expect(try catalogue.storedBlobs() == [hash] && catalogue.blobDigest(hash) == hash)
        #expect(try catalogue.restoreBlob(hash, into: elsewhere))
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: elsewhere.path(for: hash)))) == bytes)
        // A newer version with another blob: the old one goes from the catalogue with its garbage.
        let (newer, newHash, _) = try Self.blobDirectory(size: 10)
        defer { try? FileManager.default.removeItem(atPath: newer.directory) }
        #expect(try catalogue.record([image("a.png", owner: "alice", id: 2, blob: newHash)], blobs: newer).isEmpty)
        #expect(try catalogue.collectBlobGarbage(blobs.remove) == [hash])
        #expect(try catalogue.storedBlobs() == [newHash] && catalogue.blobDigest(hash) == nil)
    }

    /// A node hears another node's commit of notifications (LISTEN/NOTIFY), and only that: a
    /// batch refused whole, or a registration, adds no line and says nothing.
    @Test func aNodeHearsAnotherNodesCommits() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let listening = Catalogue(store: try PostgresStore(url: cluster.url))
        let other = Catalogue(store: try PostgresStore(url: cluster.url))
        let changes = try #require(listening.changes())
        defer { changes.close() }
        func signalled(within seconds: Double) -> Bool {
            let ready = Inotify.wait([changes.readFD], timeout: seconds)[0]
            changes.drain()
            return ready
        }
        // Listening starts with a signal: what was committed before is caught up.
        #expect(signalled(within: 10))
        try other.addUser(name: "alice", certificate: Self.certificate("alice", key: "alice"), fingerprint: "A")
        #expect(!signalled(within: 0.5))
        #expect(try other.record([image("a.png", owner: "alice", id: 1)]).isEmpty)
        #expect(signalled(within: 10))
        #expect(try other.record([image("a.png", owner: "alice", id: 1)]) == [0: .replay])
        #expect(!signalled(within: 0.5))
        #expect(try SQLiteStore().changes() == nil)
    }

    /// Two stores on one PostgreSQL database, as two server nodes, recording at once: every
    /// `seq` is used once with no gap, a name contested by two owners goes to one of them, and
    /// an envelope id recorded by both is recorded once.
    @Test func twoNodesOnOneDatabaseDecideEachThingOnce() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let nodes = [Catalogue(store: try PostgresStore(url: cluster.url)), Catalogue(store: try PostgresStore(url: cluster.url))]
        try nodes[0].addUser(name: "alice", certificate: Self.certificate("alice", key: "alice"), fingerprint: "A")
        try nodes[1].addUser(name: "bob", certificate: Self.certificate("bob", key: "bob"), fingerprint: "B")
        #expect(throws: Catalogue.Failure.nameTaken("bob")) {
            try nodes[0].addUser(name: "bob", certificate: Self.certificate("bob", key: "alice"), fingerprint: "C")
        }
        let rounds = 40
        let refusals = Locked([[Int: Catalogue.Refusal]]())
        DispatchQueue.concurrentPerform(iterations: 2) { node in
            let owner = node == 0 ? "alice" : "bob"
            for round in 0..<rounds {
                // Each node's own image, the name both want, and (the same id from the same key) a replay.
                let batch = [
                    image("\(owner)-\(round).png", owner: owner, id: UInt8(node * 100 + round + 1)),
                    image("contested-\(round).png", owner: owner, id: UInt8(node * 100 + round + 51)),
                    ImageRecord(name: "copy-\(round)-\(node).png", owner: "alice", mediaType: "image/png", width: 1, height: 1, size: 10,
                                blob: "x\(round)", envelopeID: [UInt8](repeating: 200, count: 15) + [UInt8(round)], createdAt: Date(),
                                ingestedAt: Date(), inboxName: "n\(node)", senderKey: "key-alice"),
                ]
                let refused = (try? nodes[node].record(batch)) ?? [-1: .replay]
                refusals.withLock { $0.append(refused) }
            }
        }
        let all = refusals.withLock { $0 }
        #expect(all.count == 2 * rounds && !all.contains { $0[-1] != nil }, "a record failed")
        let notifications = try nodes[1].notifications(after: 0)
        #expect(notifications.map(\.seq) == Array(1...notifications.count))
        // 2 own images a round, 1 contested name, 1 copy: 4 lines a round.
        #expect(notifications.count == 4 * rounds)
        for round in 0..<rounds {
            #expect(notifications.filter { $0.name == "contested-\(round).png" }.count == 1)
            #expect(notifications.filter { $0.name.hasPrefix("copy-\(round)-") }.count == 1)
        }
        #expect(all.flatMap(\.values).filter { $0 == .replay }.count == rounds)
        #expect(all.flatMap(\.values).filter { if case .nameOwnedBy = $0 { true } else { false } }.count == rounds)
        // What one node wrote, the other reads; the chain is one chain.
        #expect(try nodes[0].notificationPosition() == nodes[1].notificationPosition())
        #expect(zip(notifications.dropFirst(), notifications).allSatisfy { $0.prev == LogHead.hash(ofLine: $1.line) })
    }

    /// A catalogue made before ids were per sender key keeps every seen id, now under the
    /// sender's key, and its revocations become key revocations.
    @Test func version1CataloguesMigrate() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("catalogue-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) } }
        do {
            let queue = try DatabaseQueue(path: path)
            try SQLiteStore.migrator.migrate(queue, upTo: "v1-notifications")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO users (name, certificate, certificate_fingerprint, registered_at, revoked_at) VALUES (?, ?, ?, 0, 5)",
                               arguments: ["alice", Data(try Self.certificate("alice", key: "alice")), "A"])
                try db.execute(sql: "INSERT INTO seen_envelopes (id, sender, seen_at, inbox_name) VALUES (?, 'alice', 1, 'old')",
                               arguments: [Data(repeating: 7, count: 16)])
            }
        }
        let catalogue = try Catalogue(path: path)
        let key = TestServer.keys["alice"]!.publicKey.fingerprint.description
        #expect(try catalogue.seenInboxName([UInt8](repeating: 7, count: 16), senderKey: key) == "old")
        #expect(try catalogue.revokedKeyOwner(key) == "alice")
    }
}
