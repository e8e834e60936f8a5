import Foundation
import Testing
@testable import SealServer

@Suite struct NotificationLogTests {
    @Test func catchesUpAndRepairsATornLine() throws {
        let server = try TestServer()
        for image in ["coffee.gif", "horse.png", "rocket.jpg"] { try server.drop(image) }
        _ = try server.ingester().runUntilEmpty()
        let path = server.root.notificationLogPath
        let full = try String(contentsOfFile: path, encoding: .utf8)
        let lines = full.split(separator: "\n")
        #expect(lines.count == 3)
        // A crash mid-append: the last line is cut in half.
        let torn = lines[0] + "\n" + lines[1] + "\n" + lines[2].prefix(20)
        try torn.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try NotificationLog.records(at: path, after: 0).map(\.seq) == [1, 2])
        #expect(try NotificationLog(path: path).catchUp(from: server.catalogue) == 1)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == full)
        // A log behind the database (crash between commit and append) catches up.
        try (lines[0] + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try NotificationLog(path: path).catchUp(from: server.catalogue) == 2)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == full)
        #expect(try NotificationLog(path: path).catchUp(from: server.catalogue) == 0)
    }

    @Test func fsckFindsAndRepairs() throws {
        let server = try TestServer()
        try server.drop("coffee.gif")
        _ = try server.ingester().runUntilEmpty()
        let blobs = BlobStore(directory: server.root.blobs)
        let orphan = "\(server.root.blobs)/ab/ab00.seal"
        try FileManager.default.createDirectory(atPath: "\(server.root.blobs)/ab", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: orphan, contents: Data([1]))
        try "".write(toFile: server.root.notificationLogPath, atomically: false, encoding: .utf8)
        let problems = try Fsck(root: server.root).check()
        #expect(Set(problems.map(\.kind)) == [.orphanBlob, .logMismatch])
        #expect(try Fsck(root: server.root).repair().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: orphan))
        // A corrupted blob cannot be repaired, and is reported.
        let hash = try #require(try server.catalogue.images().first?.blob)
        try Data([0]).write(to: URL(fileURLWithPath: blobs.path(for: hash)))
        #expect(try Fsck(root: server.root).repair().map(\.kind) == [.corruptBlob])
    }
}
