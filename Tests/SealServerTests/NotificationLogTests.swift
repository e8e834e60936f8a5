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

/// Notification times are parsed strictly by hand (LogTime): ISO8601DateFormatter died with
/// SIGFPE on the fuzzer's long fraction.
@Suite struct LogTimeTests {
    @Test func roundTripsWhatTheServerWrites() throws {
        for seconds in [0.0, 1.001, 951_782_400.5, 1_764_387_948.392, 4_102_444_799.999, 253_402_300_799.0] {
            let date = Date(timeIntervalSince1970: seconds)
            let text = LogTime.format(date)
            let parsed = try #require(LogTime.parse(text), "\(text)")
            #expect(abs(parsed.timeIntervalSince1970 - seconds) < 0.001, "\(text)")
            #expect(LogTime.format(parsed) == text)
        }
    }

    @Test(arguments: [
        "2026-11-29T03:05:48.1111111111111111111111111111111111111111111111401Z", "2026-11-29T03:05:48Z",
        "2026-02-29T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-11-31T00:00:00.000Z", "2026-11-29T24:00:00.000Z",
        "1969-12-31T23:59:59.999Z", "2026-11-29T03:05:48.392+", "２026-11-29T03:05:48.392Z", "",
    ])
    func refusesAnythingElse(text: String) {
        #expect(LogTime.parse(text) == nil)
    }

    @Test func leapDaysAreDates() {
        #expect(LogTime.parse("2024-02-29T12:00:00.000Z") != nil)
        #expect(LogTime.parse("2000-02-29T12:00:00.000Z") != nil)
        #expect(LogTime.parse("2100-02-29T12:00:00.000Z") == nil)
    }
}
