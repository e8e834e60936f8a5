import Foundation
import Testing

/// Batches cut short by Ctrl-C, and run again: nothing half-written, nothing done twice.
@Suite(.serialized) struct ResumeTests {
    static let image = SealOpenTests.images + "/camera.png"

    /// Copies of one image under `count` names in the workspace folder `folder`.
    func images(_ w: Workspace, _ folder: String, count: Int) throws {
        try FileManager.default.createDirectory(atPath: w.path(folder), withIntermediateDirectories: true)
        for i in 0..<count {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: Self.image))
            bytes.append(contentsOf: Array("\(i)".utf8))  // after IEND: each file its own contents
            try bytes.write(to: URL(fileURLWithPath: w.path("\(folder)/img\(String(format: "%02d", i)).png")))
        }
    }

    /// Files in the workspace the size of the originals or of temporaries: no partial file.
    func strays(_ w: Workspace) -> [String] {
        w.listing().filter { $0.split(separator: "/").last.map { $0.hasPrefix(".sd-") || $0.contains("partial") } ?? false }
    }

    /// Waits (a liveness bound) until `folder` holds at least `count` entries.
    func waitFor(_ w: Workspace, _ folder: String, count: Int) {
        let deadline = Date().addingTimeInterval(120)
        while ((try? FileManager.default.contentsOfDirectory(atPath: w.path(folder)))?.count ?? 0) < count, Date() < deadline {
            usleep(20_000)
        }
    }

    func snapshot(_ w: Workspace, _ folder: String) throws -> [String: Date] {
        var out: [String: Date] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: w.path(folder)) {
            out[name] = try FileManager.default.attributesOfItem(atPath: w.path("\(folder)/\(name)"))[.modificationDate] as? Date
        }
        return out
    }

    @Test func fetchAllInterruptedThenRunAgainFetchesEachImageOnce() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (daemon, _) = try w.startServer(.directory, registering: ["alice", "bob"])
        defer { daemon.stop() }
        try images(w, "photos", count: 24)
        let post = try w.sealdrop(["post", "photos"], home: "alice")
        #expect(post.status == 0, "\(post.stderr)")

        let first = try w.start(["fetch", "--all", "-o", "got", "--jobs", "1"], home: "bob")
        waitFor(w, "got", count: 3)
        let status = first.interrupt()
        #expect(status == 130, "\(first.errorText)")
        #expect(first.errorText.contains("sealdrop: interrupted: finishing the files in hand"))
        #expect(first.errorText.contains("not started"))
        #expect(first.errorText.contains("run the same command again to resume"))
        let kept = try snapshot(w, "got")
        #expect(kept.count >= 3 && kept.count < 24, "interrupted half-way: \(kept.count)")
        #expect(strays(w).isEmpty, "\(strays(w))")

        let second = try w.sealdrop(["fetch", "--all", "-o", "got", "--json"], home: "bob")
        #expect(second.status == 0, "\(second.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any]
        #expect(summary?["ok"] as? Int == 24 - kept.count, "each image fetched once")
        #expect(summary?["skipped"] as? Int == kept.count)
        for (name, date) in kept {
            let now = try FileManager.default.attributesOfItem(atPath: w.path("got/\(name)"))[.modificationDate] as? Date
            #expect(now == date, "\(name) from the first run is unchanged")
        }
        for i in 0..<24 {
            let name = "img\(String(format: "%02d", i)).png"
            #expect(FileManager.default.contentsEqual(atPath: w.path("photos/\(name)"), andPath: w.path("got/\(name)")), "\(name)")
        }
        #expect(strays(w).isEmpty, "\(strays(w))")
    }

    @Test func postRunAgainSendsOnlyWhatIsNew() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (daemon, _) = try w.startServer(.directory, registering: ["alice"])
        defer { daemon.stop() }
        try images(w, "photos", count: 4)
        let first = try w.sealdrop(["post", "photos"], home: "alice")
        #expect(first.status == 0, "\(first.stderr)")
        try images(w, "photos", count: 5)
        let again = try w.sealdrop(["post", "photos", "--json"], home: "alice")
        #expect(again.status == 0, "\(again.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(again.stdout.split(separator: "\n")[0].utf8)) as? [String: Any]
        #expect(summary?["ok"] as? Int == 1)
        #expect(summary?["skipped"] as? Int == 4)
        let items = summary?["items"] as? [[String: Any]] ?? []
        #expect(items.filter { ($0["reason"] as? String)?.contains("posted already") ?? false }.count == 4)
        // A changed file under an old name is new contents: posted again (a new version).
        try Data("changed".utf8).append(to: w.path("photos/img00.png"))
        let changed = try w.sealdrop(["post", "photos"], home: "alice")
        #expect(changed.stdout.contains("posted 1 file"), "\(changed.stdout)")
        let fsck = try w.sealdrop(["server", "fsck", "root"])
        #expect(fsck.status == 0 && fsck.stdout.contains("root: clean"), "a new version leaves no orphan: \(fsck.stdout)")
        let tail = try w.sealdrop(["tail", "--json"], home: "alice")
        #expect(tail.stdout.split(separator: "\n").count == 6, "4 + 1 new + 1 new version, no duplicates:\n\(tail.stdout)")
        let forced = try w.sealdrop(["post", "photos", "--force", "--no-wait"], home: "alice")
        #expect(forced.stdout.contains("posted 5 files"), "\(forced.stdout)")
    }

    /// A post refused after `post` stopped waiting reaches the user through `tail`, once.
    @Test func tailShowsYourOwnRefusalsOnce() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (daemon, _) = try w.startServer(.directory, registering: ["alice", "bob"])
        defer { daemon.stop() }
        try images(w, "photos", count: 1)
        #expect(try w.sealdrop(["post", "photos/img00.png", "--name", "x.png"], home: "alice").status == 0)
        let bob = try w.sealdrop(["post", "photos/img00.png", "--name", "x.png", "--no-wait"], home: "bob")
        #expect(bob.status == 0, "\(bob.stderr)")
        var refusal = ""
        let deadline = Date().addingTimeInterval(60)
        while refusal.isEmpty, Date() < deadline {
            let tail = try w.sealdrop(["tail"], home: "bob")
            refusal = tail.stdout.split(separator: "\n").first { $0.hasPrefix("refused: ") }.map(String.init) ?? ""
            if refusal.isEmpty { usleep(200_000) }
        }
        #expect(refusal == "refused: your post x.png (photos/img00.png): the name \"x.png\" belongs to alice", "\(refusal)")
        let again = try w.sealdrop(["tail", "--json"], home: "bob")
        #expect(!again.stdout.contains("refused"), "said once: \(again.stdout)")
        let status = try w.sealdrop(["status"], home: "bob")
        #expect(status.stdout.contains("refused  x.png: the name \"x.png\" belongs to alice"), "\(status.stdout)")
    }

    @Test func collidingNamesAreRefusedBeforeAnythingIsSent() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (daemon, _) = try w.startServer(.directory, registering: ["alice"])
        defer { daemon.stop() }
        try images(w, "photos/a", count: 2)
        try images(w, "photos/b", count: 1)
        let run = try w.sealdrop(["post", "photos"], home: "alice")
        #expect(run.status == 1)
        #expect(run.stderr.contains("photos/a/img00.png and photos/b/img00.png would both be posted as \"img00.png\""), "\(run.stderr)")
        #expect(run.stderr.contains("hint: rename one of them"))
        let status = try w.sealdrop(["status", "--json"], home: "alice")
        #expect(status.stdout.contains("\"accepted\":0"), "nothing was sent: \(status.stdout)")
    }

    @Test func sealInterruptedFinishesTheFileInHandAndResumes() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice"])
        try images(w, "photos", count: 40)
        let first = try w.start(["seal", "photos", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "sealed", "--jobs", "1"])
        waitFor(w, "sealed", count: 2)
        #expect(first.interrupt() == 130, "\(first.errorText)")
        #expect(first.waitForLine(containing: "not started"), "\(first.lines) \(first.errorText)")
        let done = try FileManager.default.contentsOfDirectory(atPath: w.path("sealed")).count
        #expect(done >= 2 && done < 40)
        #expect(strays(w).isEmpty, "\(strays(w))")
        let second = try w.sealdrop(["seal", "photos", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "sealed"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("sealed \(40 - done) files"), "\(second.stdout)")
        let open = try w.sealdrop(["open", "sealed", "--key", "root/encryption.key", "--ca", "root/ca.crt", "-o", "opened"])
        #expect(open.stdout.contains("opened 40 files"), "every envelope whole: \(open.stdout) \(open.stderr)")
    }

    @Test func aBatchInWhichEverythingFailsLeavesNoFolder() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice"])
        try w.write("not an image", to: "notes.txt")
        let run = try w.sealdrop(["seal", "notes.txt", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "out/deep"])
        #expect(run.status == 1)
        #expect(!w.exists("out"), "no output folder for a batch that wrote nothing")
        let open = try w.sealdrop(["open", "notes.txt", "--key", "root/encryption.key", "--ca", "root/ca.crt", "-o", "opened"])
        #expect(open.status == 1)
        #expect(!w.exists("opened"))
    }

    @Test func partialFilesOfAKilledRunAreRemovedWhenTheFolderIsUsedAgain() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice"])
        try images(w, "photos", count: 1)
        try FileManager.default.createDirectory(atPath: w.path("sealed"), withIntermediateDirectories: true)
        try w.write("half an envelope", to: "sealed/.sd-0badf00d.partial")
        try w.write("keep me", to: "sealed/.sd-notmine.partialx")
        let run = try w.sealdrop(["seal", "photos", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "sealed"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!w.exists("sealed/.sd-0badf00d.partial"))
        #expect(w.exists("sealed/.sd-notmine.partialx"), "only sealdrop's own partial names are touched")
    }
}

extension Data {
    func append(to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: self)
    }
}
