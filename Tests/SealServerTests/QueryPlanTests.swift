import Foundation
import GRDB
import Testing
@testable import DropProtocol
@testable import SealServer

/// Every query the catalogue makes on the paths that run per drop, per fetch or per log read
/// uses an index: none scans a table whose size grows with the server (EXPLAIN QUERY PLAN),
/// so those costs stay flat however many images and notifications there are.
@Suite struct QueryPlanTests {
    /// Statements that read a whole table on purpose, and why that is fine.
    static let wholeTable: [String: String] = [
        "SELECT COUNT(*) FROM": "server status counts rows",
        "SELECT MAX(ingested_at) FROM images": "server status, not a per-drop path",
        "SELECT blob FROM blob_garbage ORDER BY blob": "the superseded blobs still to remove: a handful, emptied after each batch",
        "SELECT users.* FROM users ORDER BY": "server users lists them all",
        "SELECT * FROM users ORDER BY": "server users lists them all",
        "SELECT images.*, seen_envelopes.inbox_name, seen_envelopes.sender_key FROM images LEFT JOIN seen_envelopes ON seen_envelopes.id = images.envelope_id AND seen_envelopes.sender = images.owner ORDER BY":
            "fsck reads every image",
        "SELECT seq, line_hash FROM notifications ORDER BY seq DESC LIMIT 1":
            "the last notification: the rowid b-tree walked from its end, one row (SQLite calls it a scan)",
    ]

    @Test func perDropAndPerReadQueriesUseIndexes() throws {
        let catalogue = try Catalogue()
        let statements = StatementLog()
        catalogue.writer.writeWithoutTransaction { db in
            db.trace(options: .statement) { event in statements.add("\(event.expandedDescription)") }
        }
        // The paths ingestion, registration, fetch answers and log readers take.
        try catalogue.addUser(name: "alice", certificate: CatalogueTests.certificate("alice", key: "alice"), fingerprint: "A")
        try catalogue.addUser(name: "bob", certificate: CatalogueTests.certificate("bob", key: "bob"), fingerprint: "B")
        let test = CatalogueTests()
        _ = try catalogue.record([test.image("a.png", owner: "alice", id: 1), test.image("b.png", owner: "bob", id: 2)])
        _ = try catalogue.record([test.image("a.png", owner: "alice", id: 3)])  // a new version
        _ = try catalogue.markSeen([UInt8](repeating: 9, count: 16), senderKey: "key-bob", sender: "bob", inboxName: "r")
        _ = try catalogue.seenInboxName([UInt8](repeating: 9, count: 16), senderKey: "key-bob")
        _ = try catalogue.image(named: "a.png")
        _ = try catalogue.isBlobReferenced("b1")
        _ = try catalogue.notificationPosition()
        _ = try catalogue.notifications(after: 1)
        _ = try catalogue.lineHash(seq: 2)
        _ = try catalogue.user(named: "alice")
        _ = try catalogue.revokedKeyOwner("key-alice")
        _ = try catalogue.collectBlobGarbage { _ in }
        _ = try catalogue.revoke(name: "bob")
        _ = try catalogue.counts()
        _ = try catalogue.images()

        var checked = 0
        try catalogue.writer.read { db in
            for traced in statements.all {
                let sql = traced.split(whereSeparator: \.isWhitespace).joined(separator: " ")
                guard ["SELECT", "UPDATE", "DELETE", "INSERT"].contains(where: sql.uppercased().hasPrefix),
                      !Self.wholeTable.keys.contains(where: { sql.hasPrefix($0) }) else { continue }
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN \(sql)").map { $0["detail"] as String }
                    .joined(separator: "; ")
                checked += 1
                #expect(!plan.contains("SCAN"), "\(sql)\n  plan: \(plan)")
            }
        }
        #expect(checked >= 15, "the paths above ran their queries (\(checked) checked)")
    }
}

/// Statements seen by a trace.
final class StatementLog: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var statements: [String] = []
    func add(_ sql: String) { lock.withLock { statements.append(sql) } }
    var all: [String] { lock.withLock { Array(Set(statements)).sorted() } }
}
