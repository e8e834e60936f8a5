import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
@testable import SealClient
@testable import DropProtocol
@testable import SealServer

/// No disk amplification, no unbounded reads (hardening issue, item 7).
@Suite(.serialized) struct OutboxLimitTests {
    /// Each fetch request for a 1 MB image copied the whole blob into the outbox; answers are
    /// now hard links to the one stored blob.
    @Test func answersAreHardLinksToTheBlob() throws {
        let server = try TestServer()
        let (_, id, _, envelopePath) = try FetchTests().answered(server, image: "rocket.jpg")
        let image = try #require(try server.catalogue.image(named: "rocket.jpg"))
        var answer = stat(), blob = stat()
        #expect(lstat(envelopePath, &answer) == 0 && lstat(BlobStore(directory: server.root.blobs).path(for: image.blob), &blob) == 0)
        #expect(answer.st_ino == blob.st_ino && blob.st_nlink == 2)
        #expect(id.count == 32)
    }

    @Test func uncollectedAnswersAreCapped() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice")
        _ = try server.ingester().runUntilEmpty()
        let (bob, passphrase) = try FetchTests().profile(server, "bob")
        let fetcher = try Fetcher(profile: bob, secret: passphrase)
        var policy = IngestPolicy()
        policy.maximumPendingAnswers = 2
        var ids: [String] = []
        for _ in 0..<3 {
            ids.append(try fetcher.request("coffee.gif"))
            _ = try server.ingester(policy: policy).runUntilEmpty()
        }
        let outbox = server.root.outbox(for: "bob")
        #expect(FileManager.default.fileExists(atPath: FetchAnswer.envelopePath(in: outbox, requestID: ids[1])))
        #expect(!FileManager.default.fileExists(atPath: FetchAnswer.envelopePath(in: outbox, requestID: ids[2])))
        let output = server.url.appendingPathComponent("got.gif").path
        #expect(throws: Fetcher.Failure.self) { _ = try fetcher.receive(ids[2], image: "coffee.gif", to: output, timeout: 5) }
    }

    /// One uid cannot fill the disk through the inbox: drops past its limit are refused unread
    /// and removed, the others are ingested.
    @Test func inboxBytesPerUserAreCapped() throws {
        let server = try TestServer()
        try server.drop("coffee.gif", as: "alice", name: "one.gif")
        try server.drop("coffee.gif", as: "alice", name: "two.gif")
        var policy = IngestPolicy()
        policy.maximumPendingBytesPerUser = 60_000
        let report = try server.ingester(policy: policy).runUntilEmpty()
        #expect(report.accepted == 1 && report.quarantined == 1)
        #expect(try server.inbox().isEmpty)
        let kept = try FileManager.default.contentsOfDirectory(atPath: server.root.quarantine)
        #expect(kept.count == 1 && kept[0].hasSuffix(".reason.json"))
    }

    /// The client reads answers without following links and within a size limit (a 200 MB
    /// answer was read whole).
    @Test func answerFilesAreReadBoundedAndNotFollowed() throws {
        let server = try TestServer()
        let (fetcher, id, statementPath, envelopePath) = try FetchTests().answered(server, image: "coffee.gif")
        let output = server.url.appendingPathComponent("got.gif").path
        let real = statementPath + ".real"
        #expect(rename(statementPath, real) == 0)
        #expect(symlink(real, statementPath) == 0)
        #expect(throws: FileError.notRegular(statementPath)) {
            _ = try fetcher.open(answerAt: statementPath, envelope: envelopePath, requestID: id, image: "coffee.gif", to: output)
        }
        unlink(statementPath)
        try Data(count: FetchAnswer.maximumBytes + 1).write(to: URL(fileURLWithPath: statementPath))
        #expect(throws: FileError.tooLarge(statementPath)) {
            _ = try fetcher.open(answerAt: statementPath, envelope: envelopePath, requestID: id, image: "coffee.gif", to: output)
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}

/// How `post` cuts a signed group into bundles (FORMAT.md §13) that a server takes.
@Suite struct BundleCuttingTests {
    @Test func aGroupIsCutWhereItWouldPassTheDropLimit() {
        // The index: 13 bytes and 8 a member.
        #expect(Poster.bundles([("a", 40), ("b", 40), ("c", 40)], limit: 13 + 3 * 48) == [["a", "b", "c"]])
        #expect(Poster.bundles([("a", 40), ("b", 40), ("c", 40)], limit: 13 + 3 * 48 - 1) == [["a", "b"], ["c"]])
        // One too large for any bundle goes alone, in its place.
        #expect(Poster.bundles([("a", 10), ("big", 500), ("c", 10)], limit: 100) == [["a"], ["big"], ["c"]])
        #expect(Poster.bundles([(String, Int)](), limit: 100).isEmpty)
        // And never more members than a reader takes.
        let many = (0..<(Bundle.maximumMembers + 1)).map { ("m\($0)", 1) }
        #expect(Poster.bundles(many).map(\.count) == [Bundle.maximumMembers, 1])
    }
}
