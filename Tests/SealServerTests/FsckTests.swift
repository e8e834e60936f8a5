import Foundation
import GRDB
import SealEnvelope
import Testing
@testable import DropProtocol
@testable import SealServer

/// fsck checks rows against their blobs' headers, keeps what a rolled-back row should point
/// at, and reports and repairs modes.
@Suite(.serialized) struct FsckTests {
    @Test func aRowPointingAtAnotherEnvelopeIsReported() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "a.gif")
        try server.drop("chelsea.webp", as: "bob", name: "b.webp")
        _ = try server.ingester().runUntilEmpty()
        #expect(try Fsck(root: server.root).check().isEmpty)
        let a = try #require(try server.catalogue.image(named: "a.gif"))
        let b = try #require(try server.catalogue.image(named: "b.webp"))
        try server.catalogue.writer.write { db in
            try db.execute(sql: "UPDATE images SET blob = ? WHERE name = 'a.gif'", arguments: [b.blob])
        }
        let problems = try Fsck(root: server.root).check()
        #expect(problems.contains { $0.kind == .wrongBlob && $0.detail.hasPrefix("a.gif") })
        // a's own envelope is now unreferenced but older than nothing: it is an orphan...
        #expect(problems.contains { $0.kind == .orphanBlob && $0.detail == a.blob })
    }

    /// A row rolled back to an older version (a restored database): the newer envelope, the
    /// one it should point at, is reported and kept by --repair.
    @Test func repairNeverDeletesTheEnvelopeARowShouldPointAt() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "a.gif", now: Date().addingTimeInterval(-60))
        _ = try server.ingester().runUntilEmpty()
        let old = try #require(try server.catalogue.image(named: "a.gif"))
        try server.drop("chelsea.webp", as: "alice", name: "a.gif")
        _ = try server.ingester().runUntilEmpty()
        let new = try #require(try server.catalogue.image(named: "a.gif"))
        let blobs = BlobStore(directory: server.root.blobs)
        // The replaced version's blob went when the new row committed.
        #expect(!FileManager.default.fileExists(atPath: blobs.path(for: old.blob)))
        #expect(try Fsck(root: server.root).check().isEmpty)
        try server.catalogue.writer.write { db in
            try db.execute(sql: "UPDATE images SET blob = ?, envelope_id = ?, created_at = ? WHERE name = 'a.gif'",
                           arguments: [old.blob, Data(old.envelopeID), old.createdAt.timeIntervalSince1970])
        }
        let remaining = try Fsck(root: server.root).repair()
        #expect(remaining.contains { $0.kind == .missingBlob })
        #expect(remaining.contains { $0.kind == .strayEnvelope && $0.detail.hasPrefix(new.blob) })
        #expect(FileManager.default.fileExists(atPath: blobs.path(for: new.blob)))
    }

    @Test func wrongModesAreReportedAndRepaired() throws {
        let server = try TestServer(users: [])
        chmod(server.root.inboxNew, 0o777)
        chmod(server.root.quarantine, 0o755)
        let problems = try Fsck(root: server.root).check()
        #expect(problems.filter { $0.kind == .wrongMode }.count == 2)
        #expect(try Fsck(root: server.root).repair().isEmpty)
        var info = stat()
        #expect(lstat(server.root.inboxNew, &info) == 0 && info.st_mode & 0o7777 == 0o1733)
    }
}
