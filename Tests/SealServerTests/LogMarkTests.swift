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
        #expect(bob.logMark() == Profile.LogMark(seq: 2, offset: log.count))
        try posted(server, ["rocket.jpg"])
        // The lines already verified are spoiled (same length): a reader starting from its
        // mark never reads them; one without a mark does, and refuses the log.
        var spoiled = try Data(contentsOf: URL(fileURLWithPath: server.root.notificationLogPath))
        spoiled.replaceSubrange(0..<20, with: Data(repeating: UInt8(ascii: "x"), count: 20))
        try spoiled.write(to: URL(fileURLWithPath: server.root.notificationLogPath))
        #expect(try feed.records(after: 2).map(\.name) == ["rocket.jpg"])
        #expect(bob.logMark()?.seq == 3 && bob.logMark()?.offset == spoiled.count)
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
}
