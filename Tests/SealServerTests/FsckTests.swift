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
        let remaining = try Fsck(root: server.root).repair().remaining
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
        let repair = try Fsck(root: server.root).repair()
        #expect(repair.remaining.isEmpty)
        #expect(repair.done.filter { $0.hasPrefix("set the mode of ") }.count == 2, "\(repair.done)")
        var info = stat()
        #expect(lstat(server.root.inboxNew, &info) == 0 && info.st_mode & 0o7777 == 0o1733)
    }

    /// A crash after a new version commits and before the old blob is removed leaves a known
    /// leftover: fsck calls the server clean, the next ingest (or --repair, saying so) removes it.
    @Test func aSupersededBlobLeftByACrashIsNoOrphan() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "a.gif", now: Date().addingTimeInterval(-60))
        _ = try server.ingester().runUntilEmpty()
        let old = try #require(try server.catalogue.image(named: "a.gif"))
        let blobs = BlobStore(directory: server.root.blobs)
        let kept = try Data(contentsOf: URL(fileURLWithPath: blobs.path(for: old.blob)))
        try server.drop("chelsea.webp", as: "alice", name: "a.gif")
        _ = try server.ingester().runUntilEmpty()
        #expect(try server.catalogue.blobGarbage().isEmpty)
        // The state a kill between the commit and the removal leaves.
        try kept.write(to: URL(fileURLWithPath: blobs.path(for: old.blob)))
        try server.catalogue.writer.write { db in
            try db.execute(sql: "INSERT INTO blob_garbage (blob, since) VALUES (?, 0)", arguments: [old.blob])
        }
        #expect(try Fsck(root: server.root).check().isEmpty, "a healthy server is clean")
        let repair = try Fsck(root: server.root).repair()
        #expect(repair.done == ["removed the blob of a superseded version: \(old.blob)"])
        #expect(!FileManager.default.fileExists(atPath: blobs.path(for: old.blob)))
        // The same leftover, removed by the next ingest instead.
        try kept.write(to: URL(fileURLWithPath: blobs.path(for: old.blob)))
        try server.catalogue.writer.write { db in
            try db.execute(sql: "INSERT INTO blob_garbage (blob, since) VALUES (?, 0)", arguments: [old.blob])
        }
        _ = try server.ingester().runUntilEmpty()
        #expect(!FileManager.default.fileExists(atPath: blobs.path(for: old.blob)))
        #expect(try server.catalogue.blobGarbage().isEmpty)
    }

    /// Posting back an earlier version's contents keeps the blob both rows share in time.
    @Test func aBlobPostedAgainIsNotCollected() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "a.gif")
        try server.drop("coffee.gif", as: "alice", name: "b.gif")
        _ = try server.ingester().runUntilEmpty()
        try server.drop("chelsea.webp", as: "alice", name: "a.gif")
        _ = try server.ingester().runUntilEmpty()
        #expect(try Fsck(root: server.root).check().isEmpty)
        for name in ["a.gif", "b.gif"] {
            let row = try #require(try server.catalogue.image(named: name))
            #expect(FileManager.default.fileExists(atPath: BlobStore(directory: server.root.blobs).path(for: row.blob)), "\(name)")
        }
    }

    /// A blob stored for a drop still being ingested (its commit not yet made) is not an orphan.
    @Test func aDropBeingIngestedIsNoOrphan() throws {
        let server = try TestServer()
        let hash = String(repeating: "ab", count: 32)
        try FileManager.default.createDirectory(atPath: "\(server.root.blobs)/ab", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: BlobStore(directory: server.root.blobs).path(for: hash), contents: Data([1]))
        #expect(try Fsck(root: server.root).check().map(\.kind) == [.orphanBlob])
        let note = #"{"id":"0001","file":"x","name_hex":"78","device":1,"inode":2,"size":1,"sha256":"\#(hash)"}"#
        try note.write(toFile: "\(server.root.work)/0001.json", atomically: true, encoding: .utf8)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }
}
