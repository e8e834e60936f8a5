import Foundation
import SealClient
import SealEnvelope
import Testing
@testable import DropProtocol
@testable import SealServer

/// A client of a directory server reads only the log lines that are new since its last
/// verified line, so `tail` costs the same however long the log has grown.
@Suite(.serialized) struct LogMarkTests {
    func posted(_ server: TestServer, _ images: [String]) throws {
        for image in images { try server.drop(image, as: "alice") }
        _ = try server.ingester().runUntilEmpty()
    }

    @Test func aReaderWithAMarkReadsOnlyNewLines() throws {
        let server = try TestServer()
        try posted(server, ["coffee.gif", "horse.png"])
        let (bob, _) = try FetchTests().profile(server, "bob")
        let feed = try NotificationFeed(profile: bob)
        #expect(try feed.records(after: 0).map(\.name) == ["coffee.gif", "horse.png"])
        let log = try Data(contentsOf: URL(fileURLWithPath: server.root.notificationLogPath))
        #expect(bob.logMark(at: 2) == Profile.LogMark(seq: 2, offset: log.count))
        try posted(server, ["rocket.jpg"])
        // The lines already verified are spoiled (same length): a reader starting from its
        // mark never reads them; one without a mark does, and refuses the log.
        var spoiled = try Data(contentsOf: URL(fileURLWithPath: server.root.notificationLogPath))
        spoiled.replaceSubrange(0..<20, with: Data(repeating: UInt8(ascii: "x"), count: 20))
        try spoiled.write(to: URL(fileURLWithPath: server.root.notificationLogPath))
        #expect(try feed.records(after: 2).map(\.name) == ["rocket.jpg"])
        #expect(bob.logMark(at: 3)?.offset == spoiled.count)
        let (carol, _) = try FetchTests().profile(server, "alice")
        #expect(throws: NotificationLog.Corrupt.self) { try NotificationFeed(profile: carol).records(after: 0) }
    }

    @Test func aMarkThatIsNotThisLogsIsIgnored() throws {
        let server = try TestServer()
        try posted(server, ["coffee.gif", "horse.png"])
        let (bob, _) = try FetchTests().profile(server, "bob")
        let feed = try NotificationFeed(profile: bob)
        _ = try feed.records(after: 0)
        try posted(server, ["rocket.jpg"])
        // A mark pointing into the middle of a line, or past the end: the whole log is read.
        for offset in [7, 1 << 30] {
            try bob.saveLogMark(Profile.LogMark(seq: 2, offset: offset))
            #expect(try feed.records(after: 2).map(\.name) == ["rocket.jpg"])
        }
        // A head that claims more than the lines from the mark hold is still refused.
        let log = try Data(contentsOf: URL(fileURLWithPath: server.root.notificationLogPath))
        try bob.saveLogMark(Profile.LogMark(seq: 3, offset: log.count))
        try log.prefix(log.count - 1).write(to: URL(fileURLWithPath: server.root.notificationLogPath))
        #expect(throws: (any Error).self) { try feed.records(after: 3) }
    }

    /// list keeps an index of the latest record per name and reads only the lines after it.
    @Test func theImageIndexReadsOnlyWhatIsNew() throws {
        let server = try TestServer()
        try posted(server, ["coffee.gif", "horse.png"])
        let (bob, _) = try FetchTests().profile(server, "bob")
        let feed = try NotificationFeed(profile: bob)
        let index = ImageIndex(profile: bob)
        #expect(try index.images(from: feed).map(\.name) == ["coffee.gif", "horse.png"])
        // tail moves on; the index keeps its own mark.
        try posted(server, ["rocket.jpg"])
        _ = try feed.records(after: 2)
        try server.drop("chelsea.webp", as: "bob", name: "coffee.gif")  // bob's coffee.gif: refused, alice owns it
        try posted(server, ["camera.png", "horse.png"])  // a second version of horse.png
        var spoiled = try Data(contentsOf: URL(fileURLWithPath: server.root.notificationLogPath))
        spoiled.replaceSubrange(0..<20, with: Data(repeating: UInt8(ascii: "x"), count: 20))
        try spoiled.write(to: URL(fileURLWithPath: server.root.notificationLogPath))
        let images = try index.images(from: feed)
        #expect(images.map(\.name) == ["camera.png", "coffee.gif", "horse.png", "rocket.jpg"], "read from its mark, not line 1")
        #expect(images.first { $0.name == "coffee.gif" }?.owner == "alice")
        #expect(images.first { $0.name == "horse.png" }?.seq == 5, "the latest version")
        // The newest first, as many as asked.
        #expect(try index.images(from: feed, newest: 2).map(\.name) == ["horse.png", "camera.png"])
        #expect(try index.images(from: feed, newest: 2).map(\.seq) == [5, 4])
    }

    /// The index is a cache: one that is not a database is rebuilt from the log.
    @Test func aDamagedImageIndexIsRebuilt() throws {
        let server = try TestServer()
        try posted(server, ["coffee.gif", "horse.png"])
        let (bob, _) = try FetchTests().profile(server, "bob")
        let index = ImageIndex(profile: bob)
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: index.path))
        #expect(try index.images(from: try NotificationFeed(profile: bob)).map(\.name) == ["coffee.gif", "horse.png"])
        #expect(try FileManager.default.attributesOfItem(atPath: index.path)[.posixPermissions] as? Int == 0o600)
    }
}
