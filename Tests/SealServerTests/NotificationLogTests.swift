import Foundation
import Testing
import SealEnvelope
@testable import DropProtocol
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
        #expect(try NotificationLog(path: path).catchUp(from: server.catalogue, signer: nil) == 1)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == full)
        // A log behind the database (crash between commit and append) catches up.
        try (lines[0] + "\n").write(toFile: path, atomically: false, encoding: .utf8)
        #expect(try NotificationLog(path: path).catchUp(from: server.catalogue, signer: nil) == 2)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == full)
        #expect(try NotificationLog(path: path).catchUp(from: server.catalogue, signer: nil) == 0)
    }

    @Test func fsckFindsAndRepairs() throws {
        let server = try TestServer()
        try server.drop("coffee.gif")
        _ = try server.ingester().runUntilEmpty()
        let blobs = BlobStore(directory: server.root.blobs)
        let orphan = "\(server.root.blobs)/ab/ab00.seal"
        try FileManager.default.createDirectory(atPath: "\(server.root.blobs)/ab", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: orphan, contents: Data([1])))
        try "".write(toFile: server.root.notificationLogPath, atomically: false, encoding: .utf8)
        let problems = try Fsck(root: server.root).check()
        #expect(Set(problems.map(\.kind)) == [.orphanBlob, .logMismatch])
        let repair = try Fsck(root: server.root).repair()
        #expect(repair.remaining.isEmpty)
        #expect(repair.done.contains("removed orphan blob ab00"), "\(repair.done)")
        #expect(repair.done.contains { $0.hasPrefix("rewrote \(server.root.notificationLogPath) from the catalogue") }, "\(repair.done)")
        #expect(!FileManager.default.fileExists(atPath: orphan))
        // A corrupted blob cannot be repaired, and is reported.
        let hash = try #require(try server.catalogue.images().first?.blob)
        try Data([0]).write(to: URL(fileURLWithPath: blobs.path(for: hash)))
        #expect(try Fsck(root: server.root).repair().remaining.map(\.kind) == [.corruptBlob])
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

    /// The hand-made formatter writes what ISO8601DateFormatter wrote, byte for byte, so that
    /// a log rebuilt from the catalogue hashes as the lines written before: random times with
    /// microseconds (as Date() has them), and the edges of milliseconds, days and years.
    @Test func formatsAsISO8601DateFormatterDid() {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        var times = (0..<20_000).map { _ in Double.random(in: 0..<4_102_444_800) }
        times += (0..<2_000).map { _ in (Double.random(in: 1_700_000_000..<1_800_000_000) * 1000).rounded() / 1000 }
        times += [0, 0.0005, 0.9995, 0.9999999, 59.9999, 86_399.9999, 951_782_399.9996, 951_868_800, 1_709_251_199.9995,
                  4_102_444_799.9999, 1_764_387_948.392, 1_764_387_948.3925]
        for seconds in times {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(LogTime.format(date) == reference.string(from: date), "\(seconds)")
            #expect(LogTime.format(date, milliseconds: false) == plain.string(from: date), "\(seconds)")
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

/// The chained log and its signed head, as a client verifies them (hardening issue, item 9).
@Suite(.serialized) struct LogHeadTests {
    func server(images: Int) throws -> TestServer {
        let server = try TestServer()
        for index in 0..<images { try server.drop("coffee.gif", name: "c\(index).gif") }
        _ = try server.ingester().runUntilEmpty()
        return server
    }

    func verify(_ server: TestServer, known: LogHead.Position = .start) throws -> ([NotificationRecord], LogHead.Position) {
        try NotificationLog.verifiedRecords(at: server.root.notificationLogPath, authority: server.authority.certificate,
                                            known: known, after: 0)
    }

    func lines(_ server: TestServer) throws -> [String] {
        try String(contentsOfFile: server.root.notificationLogPath, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    func write(_ lines: [String], to server: TestServer) throws {
        try (lines.joined(separator: "\n") + "\n").write(toFile: server.root.notificationLogPath, atomically: true, encoding: .utf8)
    }

    @Test func theServerSignsAChainedLog() throws {
        let server = try server(images: 3)
        let (records, head) = try verify(server)
        #expect(records.map(\.seq) == [1, 2, 3] && head.seq == 3)
        #expect(records[0].prev == LogHead.Position.start.hash)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    /// A head signed ahead of the commit (while the commit is made durable) is written only
    /// for the position it signed; for any other the log's head is signed anew.
    @Test func aPresignedHeadIsUsedOnlyForItsOwnPosition() throws {
        let server = try server(images: 2)
        let delivery = try RSASigner(key: server.root.privateKeys([server.root.deliveryKeyPath], secret: serverPassphrase)[0],
                                     certificate: server.root.deliveryCertificate())
        let log = NotificationLog(path: server.root.notificationLogPath)
        let position = try server.catalogue.notificationPosition()
        let first = try server.catalogue.lineHash(seq: 1)
        let stale = HeadSigning(LogHead.Position(seq: 1, hash: try #require(first)), signer: delivery)
        try FileManager.default.removeItem(atPath: log.headPath)
        try log.catchUp(from: server.catalogue, signer: delivery, presigned: stale)
        let signedAnew = try LogHead.read(at: log.headPath)
        let staleHead = try stale.head()
        #expect(signedAnew.position == position && signedAnew != staleHead)
        let ahead = HeadSigning(position, signer: delivery)
        try FileManager.default.removeItem(atPath: log.headPath)
        try log.catchUp(from: server.catalogue, signer: delivery, presigned: ahead)
        let aheadHead = try ahead.head()
        #expect(try LogHead.read(at: log.headPath) == aheadHead)
        #expect(try verify(server).1 == position)
    }

    /// On a shared catalogue another node commits at any moment, also between the lines a
    /// node appends and the head it signs: the head names the log's own last line, never a
    /// line committed since (a follower would find the log "truncated").
    @Test func aHeadNamesOnlyLinesTheLogHolds() throws {
        for behind in [0, 1] {
            let server = try server(images: 2)
            let delivery = try RSASigner(key: server.root.privateKeys([server.root.deliveryKeyPath], secret: serverPassphrase)[0],
                                         certificate: server.root.deliveryCertificate())
            let template = try #require(try server.catalogue.images().first)
            let another = ImageRecord(name: "elsewhere.gif", owner: template.owner, mediaType: template.mediaType, width: template.width,
                                      height: template.height, size: template.size, blob: template.blob, envelopeID: [UInt8](repeating: 7, count: 16),
                                      createdAt: Date(), ingestedAt: Date(), inboxName: "elsewhere", senderKey: template.senderKey)
            // The log one line behind its catalogue, or not behind; another node commits right
            // after this node has read what its log lacks.
            try write(Array(try lines(server).prefix(2 - behind)), to: server)
            let store = InterleavedStore(server.catalogue.store) { inner in _ = try inner.record([another], blobs: nil) { _ in } }
            let log = NotificationLog(path: server.root.notificationLogPath)
            #expect(try log.catchUp(from: Catalogue(store: store), signer: delivery) == behind)
            #expect(try LogHead.read(at: log.headPath).position.seq == 2)
            #expect(try verify(server).1.seq == 2)
            // The next catch-up appends that line and names it.
            #expect(try log.catchUp(from: server.catalogue, signer: delivery) == 1)
            #expect(try verify(server).1.seq == 3)
        }
    }

    /// A lone drop's head is signed beside the unwrap of its key, for the position its commit
    /// then gives: the head the ingester writes is that very signature (PSS signatures are
    /// randomised, so an equal head is the same signing). When something else commits between
    /// the examination and the commit, the head signed ahead is not used, and the head written
    /// still names the log's last line.
    @Test func aLoneDropsHeadIsSignedAheadOfItsCommit() throws {
        for interleaved in [false, true] {
            let server = try server(images: 1)
            let ingester = try server.ingester()
            try server.drop("coffee.gif", name: "alone.gif")
            var report = Ingester.Report()
            let items = try ingester.nextBatch(into: &report)
            let examined = ingester.examine(items, signAhead: true)
            let ahead = try #require(examined.signedAhead)
            if interleaved {
                let template = try #require(try server.catalogue.images().first)
                _ = try server.catalogue.record([ImageRecord(
                    name: "elsewhere.gif", owner: template.owner, mediaType: template.mediaType, width: template.width,
                    height: template.height, size: template.size, blob: template.blob, envelopeID: [UInt8](repeating: 7, count: 16),
                    createdAt: Date(), ingestedAt: Date(), inboxName: "elsewhere", senderKey: template.senderKey)])
            }
            try ingester.settle(items, examined, into: &report)
            #expect(report.accepted == 1)
            let position = try server.catalogue.notificationPosition()
            let head = try LogHead.read(at: ingester.log.headPath)
            let aheadHead = try ahead.head()
            #expect(head.position == position && position.seq == (interleaved ? 3 : 2))
            #expect((ahead.position == position) == !interleaved)
            #expect((head == aheadHead) == !interleaved)
            #expect(try verify(server).1 == position)
        }
        // Only a lone envelope is signed ahead: a batch of two, or one examined while another
        // batch commits, waits for its commit's position.
        let server = try server(images: 0)
        let ingester = try server.ingester()
        for name in ["one.gif", "two.gif"] { try server.drop("coffee.gif", name: name) }
        var report = Ingester.Report()
        let items = try ingester.nextBatch(into: &report)
        #expect(items.count == 2 && ingester.examine(items, signAhead: true).signedAhead == nil)
        #expect(ingester.examine(Array(items.prefix(1))).signedAhead == nil)
    }

    @Test func aForgedLineIsReported() throws {
        let server = try server(images: 3)
        var log = try lines(server)
        log[1] = log[1].replacingOccurrences(of: "\"c1.gif\"", with: "\"cX.gif\"")
        try write(log, to: server)
        #expect(throws: NotificationLog.Untrusted.rewritten(server.root.notificationLogPath, seq: 3)) { _ = try verify(server) }
    }

    /// A long log is decoded on every core, and still checked, and reported, line by line in
    /// order: the first bad line is the one named.
    @Test func aLongLogIsCheckedInOrder() throws {
        let server = try server(images: 1)
        let template = try #require(try server.catalogue.images().first)
        let records = (2...10_000).map { index in
            ImageRecord(name: "n\(index).gif", owner: template.owner, mediaType: template.mediaType, width: template.width,
                        height: template.height, size: template.size, blob: template.blob,
                        envelopeID: (0..<16).map { _ in UInt8.random(in: 0...255) }, createdAt: Date(), ingestedAt: Date(),
                        inboxName: "n\(index)", senderKey: template.senderKey)
        }
        #expect(try server.catalogue.record(records).isEmpty)
        _ = try server.ingester().runUntilEmpty()
        let (verified, head) = try verify(server)
        #expect(verified.map(\.seq) == Array(1...10_000) && head.seq == 10_000)
        var log = try lines(server)
        log[8_999] = log[8_999].replacingOccurrences(of: "\"n9000.gif\"", with: "\"nX.gif\"")
        try write(log, to: server)
        #expect(throws: NotificationLog.Untrusted.rewritten(server.root.notificationLogPath, seq: 9_001)) { _ = try verify(server) }
        log[4_999] = "{}"
        try write(log, to: server)
        #expect(throws: NotificationLog.Corrupt.self) { _ = try verify(server) }
        do { _ = try verify(server) } catch let corrupt as NotificationLog.Corrupt { #expect(corrupt.line == 5_000) }
    }

    @Test func reorderedLinesAreReported() throws {
        let server = try server(images: 3)
        let log = try lines(server)
        try write([log[0], log[2], log[1]], to: server)
        #expect(throws: NotificationLog.Corrupt.self) { _ = try verify(server) }
    }

    @Test func aTruncatedLogIsReported() throws {
        let server = try server(images: 3)
        try write(Array(try lines(server).prefix(2)), to: server)
        #expect(throws: NotificationLog.Untrusted.truncated(server.root.notificationLogPath, lines: 2, head: 3)) { _ = try verify(server) }
    }

    /// An old log with its old, validly signed head, put back after a client saw a newer one.
    @Test func aRollbackBehindWhatWasVerifiedIsReported() throws {
        let server = try server(images: 2)
        let oldLog = try lines(server)
        let oldHead = try Data(contentsOf: URL(fileURLWithPath: NotificationLog(path: server.root.notificationLogPath).headPath))
        try server.drop("chelsea.webp", name: "new.webp")
        _ = try server.ingester().runUntilEmpty()
        let (_, seen) = try verify(server)
        #expect(seen.seq == 3)
        try write(oldLog, to: server)
        try oldHead.write(to: URL(fileURLWithPath: NotificationLog(path: server.root.notificationLogPath).headPath))
        #expect(throws: NotificationLog.Untrusted.rolledBack(server.root.notificationLogPath, head: 2, known: 3)) {
            _ = try verify(server, known: seen)
        }
        // A client that never saw line 3 accepts the old, consistent log.
        #expect(try verify(server).0.count == 2)
    }

    @Test func aHeadNotSignedByTheDeliveryKeyIsReported() throws {
        let server = try server(images: 1)
        let path = NotificationLog(path: server.root.notificationLogPath).headPath
        var head = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
        head["seq"] = 5
        try JSONSerialization.data(withJSONObject: head).write(to: URL(fileURLWithPath: path))
        #expect(throws: NotificationLog.Untrusted.self) { _ = try verify(server) }
    }

    /// A rebuilt log (garbage appended, then caught up) is the same bytes: heads a client
    /// verified before still hold.
    @Test func aRebuiltLogExtendsWhatClientsVerified() throws {
        let server = try server(images: 2)
        let (_, seen) = try verify(server)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: server.root.notificationLogPath))
        handle.seekToEndOfFile()
        handle.write(Data("garbage\n".utf8))
        try handle.close()
        try server.drop("chelsea.webp", name: "new.webp")
        _ = try server.ingester().runUntilEmpty()
        let (records, head) = try verify(server, known: seen)
        #expect(records.count == 3 && head.seq == 3)
    }
}
