import Foundation
import Testing

/// The drop server run as users would: a watch daemon, registrations, posts, tail.
@Suite(.serialized) struct ServerFlowTests {
    static let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures/images").path

    /// The same flow through the directory and through the HTTPS gateway.
    @Test(arguments: Transport.allCases) func twoUsersPostAndEveryoneSeesTheNotifications(_ transport: Transport) throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (watch, server) = try w.startServer(transport)
        defer { watch.stop() }
        let fp = try w.caFingerprint()

        for user in ["alice", "bob", "carol"] {
            let run = try w.sealdrop(["register", "--server", server, "--user", user, "--expect-fingerprint", fp, "--bits", "2048"], home: user)
            #expect(run.status == 0, "\(user): \(run.stderr)")
            #expect(run.stdout.contains("registered \"\(user)\""))
        }
        // A taken name is refused with the reason, and a wrong fingerprint before anything is dropped.
        let taken = try w.sealdrop(["register", "--server", server, "--user", "alice", "--expect-fingerprint", fp, "--bits", "2048"], home: "mallory")
        #expect(taken.status == 1 && taken.stderr.contains("already registered"), "\(taken.stderr)")
        let spoofed = try w.sealdrop(["register", "--server", server, "--user", "eve", "--expect-fingerprint", String(repeating: "AB:", count: 31) + "AB", "--bits", "2048"], home: "eve")
        #expect(spoofed.status == 1 && spoofed.stderr.contains("does not match"))
        #expect(!w.exists("eve/profile.json"))

        // carol follows before anything is posted.
        let follower = try w.start(["tail", "--follow", "--json"], home: "carol")
        defer { follower.stop() }
        usleep(300_000)
        let posted = try w.sealdrop(["post", Self.images + "/coffee.gif", Self.images + "/rocket.jpg"], home: "alice")
        #expect(posted.status == 0, "\(posted.stderr)")
        #expect(posted.stdout.contains("accepted coffee.gif") && posted.stdout.contains("2 accepted, 0 refused, 0 not answered yet"),
                "\(posted.stdout)")
        #expect(try w.sealdrop(["post", Self.images + "/horse.png", "--name", "bob's horse.png"], home: "bob").status == 0)
        let lines = follower.waitForLines(3)
        #expect(lines.count == 3)
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(Set(records.compactMap { $0["name"] as? String }) == ["coffee.gif", "rocket.jpg", "bob's horse.png"])
        #expect(records.compactMap { $0["seq"] as? Int }.sorted() == [1, 2, 3])
        // alice's two images were posted as a batch: one signature over their Merkle root.
        let signatures = try w.storedBlobs().map { blob in
            let inspected = try w.sealdrop(["inspect", blob, "--json"])
            let fields = try JSONSerialization.jsonObject(with: Data(inspected.stdout.utf8)) as? [String: Any]
            return fields?["signature"] as? String ?? inspected.stderr
        }
        #expect(signatures.sorted() == ["rsa-pss-sha256", "rsa-pss-sha256 over a batch's Merkle root",
                                        "rsa-pss-sha256 over a batch's Merkle root"], "\(signatures)")

        // alice and bob each see the other's posts; a second tail shows nothing new.
        let aliceTail = try w.sealdrop(["tail"], home: "alice")
        #expect(aliceTail.stdout.contains("bob posted bob's horse.png"))
        #expect(try w.sealdrop(["tail"], home: "alice").stdout.isEmpty)
        let bobTail = try w.sealdrop(["tail", "--json"], home: "bob")
        #expect(bobTail.stdout.split(separator: "\n").count == 3)
        // Aligned columns: names padded to the longest ("bob's horse.png"), sizes to the right.
        let listed = try w.sealdrop(["list"], home: "bob").stdout.split(separator: "\n").map(String.init)
        #expect(listed.count == 3 && listed[1].hasPrefix("coffee.gif       alice  image/gif   "), "\(listed)")
        #expect(Set(listed.map { $0.count }).count == 1, "every row as wide: \(listed)")
        let newest = try w.sealdrop(["list", "--last", "1"], home: "bob").stdout.split(separator: "\n")
        #expect(newest.count == 1 && newest[0].hasPrefix("bob's horse.png  bob"), "\(newest)")

        // bob fetches alice's image: byte for byte what she posted, verified.
        let fetched = try w.sealdrop(["fetch", "rocket.jpg", "-o", "rocket-copy.jpg"], home: "bob")
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(fetched.stdout.contains("\"rocket.jpg\" posted by alice"))
        #expect(FileManager.default.contentsEqual(atPath: w.path("rocket-copy.jpg"), andPath: Self.images + "/rocket.jpg"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: w.path("root/outbox/bob")))?.isEmpty ?? true,
                "the answer was collected")

        // Someone else's name is refused at ingest: post waits for the verdict, prints the
        // reason and exits 3; status lists the refusal, the outbox keeps nothing.
        let refused = try w.sealdrop(["post", Self.images + "/camera.png", "--name", "coffee.gif"], home: "bob")
        #expect(refused.status == 3, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stdout.contains("refused  coffee.gif: the name \"coffee.gif\" belongs to alice"), "\(refused.stdout)")
        #expect(refused.stdout.contains("0 accepted, 1 refused, 0 not answered yet"))
        let bobStatus = try w.sealdrop(["status"], home: "bob")
        #expect(bobStatus.status == 0 && bobStatus.stdout.contains("1 accepted, 0 waiting, 1 refused"), "\(bobStatus.stdout)")
        #expect(bobStatus.stdout.contains("refused  coffee.gif: the name \"coffee.gif\" belongs to alice"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: w.path("root/outbox/bob")))?.isEmpty ?? true)

        let status = try w.sealdrop(["server", "status", "root", "--json"])
        let counts = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
        // Quarantined: mallory's request for the taken name, and bob's post under alice's name.
        #expect(counts?["images"] as? Int == 3 && counts?["users"] as? Int == 3 && counts?["quarantined"] as? Int == 2)
        #expect(try w.sealdrop(["server", "fsck", "root"]).stdout.contains("clean"))
        #expect(watch.stop() == 0, "watch must stop cleanly on SIGTERM")
    }

    /// A folder goes to a server directory as one bundle drop (FORMAT.md §13) per signed
    /// group; --no-bundle sends a drop per image. Either way each image gets its verdict.
    @Test func aFolderIsPostedAsOneBundle() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.watchedRootWithRegistered(["alice"]).stop()
        try FileManager.default.createDirectory(atPath: w.path("holiday"), withIntermediateDirectories: true)
        for image in ["coffee.gif", "horse.png", "rocket.jpg", "chelsea.webp"] {
            try FileManager.default.copyItem(atPath: Self.images + "/" + image, toPath: w.path("holiday/" + image))
        }
        // What a killed post left in the spool goes; a live process's file stays.
        let exited = Process()
        exited.executableURL = URL(fileURLWithPath: "/bin/true")
        try exited.run()
        exited.waitUntilExit()
        try FileManager.default.createDirectory(atPath: w.path("alice/spool"), withIntermediateDirectories: true)
        let abandoned = "alice/spool/1.5.P\(exited.processIdentifier)Rabcd1234.seal", live = "alice/spool/1.5.P1Rabcd1234.seal"
        try w.write("left by a killed post", to: abandoned)
        try w.write("still being written", to: live)
        let posted = try w.sealdrop(["post", "holiday", "--no-wait"], home: "alice")
        #expect(posted.status == 0, "\(posted.stderr)")
        #expect(!w.exists(abandoned) && w.exists(live))
        try FileManager.default.removeItem(atPath: w.path(live))
        let drops = try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/new"))
        #expect(drops.count == 1, "\(drops)")
        #expect(try Array(Data(contentsOf: URL(fileURLWithPath: w.path("root/inbox/new/" + drops[0]))).prefix(8)) == Array("SEALBNDL".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("alice/spool")).isEmpty, "nothing left in the spool")
        let single = try w.sealdrop(["post", Self.images + "/camera.png", Self.images + "/rocket.heic", "--no-bundle", "--no-wait"], home: "alice")
        #expect(single.status == 0, "\(single.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/new")).count == 3)
        let ingested = try w.sealdrop(["server", "ingest", "root", "--once"])
        #expect(ingested.status == 0 && ingested.stdout.contains("accepted 6,"), "\(ingested.stdout) \(ingested.stderr)")
        // The verdicts, from the bundle's one note and the two single ones; all collected.
        let status = try w.sealdrop(["status"], home: "alice")
        #expect(status.stdout.contains("6 accepted, 0 waiting, 0 refused"), "\(status.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("root/outbox/alice")).filter { $0.hasPrefix("accepted-") }.isEmpty)
        #expect(try w.sealdrop(["server", "fsck", "root"]).stdout.contains("clean"))
    }

    @Test func cronIngestExitCodesAndRevocation() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.sealdrop(["server", "init", "root", "--bits", "2048"])
        let fp = try w.caFingerprint()
        // Registration answered by cron-style runs.
        let register = try w.start(["register", "--server", "root", "--user", "dana", "--expect-fingerprint", fp, "--bits", "2048"], home: "dana")
        var registered = false
        for _ in 0..<100 where !registered {
            try w.sealdrop(["server", "ingest", "root", "--once"])
            registered = w.exists("dana/dana.crt")
            usleep(100_000)
        }
        #expect(register.stop() == 0 && registered)
        #expect(try w.sealdrop(["server", "ingest", "root", "--once"]).status == 0)
        // Nobody ingests until cron runs: post says so, and status shows the verdict later.
        let unanswered = try w.sealdrop(["post", Self.images + "/coffee.gif", "--wait", "1"], home: "dana")
        #expect(unanswered.status == 0, "\(unanswered.stderr)")
        #expect(unanswered.stderr.contains("1 of 1 not answered within 1 s (the server may ingest from cron)"), "\(unanswered.stderr)")
        #expect(try w.sealdrop(["status"], home: "dana").stdout.contains("0 accepted, 1 waiting, 0 refused"))
        try "junk".write(toFile: w.path("root/inbox/new/junk"), atomically: true, encoding: .utf8)
        let run = try w.sealdrop(["server", "ingest", "root", "--once", "--json"])
        #expect(run.status == 3, "quarantined items give exit status 3")
        #expect(run.stdout.contains("accepted 1, registered 0, answered 0, quarantined 1"))
        let logs = run.stderr.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String] }
        #expect(logs.contains { $0["message"] == "accepted" && $0["name"] == "coffee.gif" })
        #expect(logs.contains { $0["message"] == "quarantined" && $0["file"] == "junk" })
        #expect(try w.sealdrop(["status"], home: "dana").stdout.contains("1 accepted, 0 waiting, 0 refused"))

        #expect(try w.sealdrop(["server", "revoke", "root", "dana"]).status == 0)
        let twice = try w.sealdrop(["server", "revoke", "root", "dana"])
        #expect(twice.status == 0 && twice.stdout.contains("dana was already revoked on"), "\(twice.stdout)")
        #expect(try w.sealdrop(["post", Self.images + "/horse.png", "--no-wait"], home: "dana").status == 0)
        // A revoked user's fetch hears the refusal as soon as it lands, not at its timeout.
        let fetch = try w.start(["fetch", "coffee.gif", "--timeout", "600", "-o", "got.gif"], home: "dana")
        usleep(500_000)
        #expect(try w.sealdrop(["server", "ingest", "root", "--once"]).status == 3)
        #expect(fetch.stop(waitingFor: 60) == 1, "the fetch ended with the refusal")
        let status = try w.sealdrop(["status"], home: "dana")
        #expect(status.stdout.contains("refused  horse.png: sender dana is revoked"), "\(status.stdout)")
        let users = try w.sealdrop(["server", "users", "root"])
        #expect(users.stdout.contains("REVOKED"))
        #expect(try w.sealdrop(["list"], home: "dana").stdout.contains("coffee.gif"), "a revoked owner's images stay listed")
    }

    /// A second ingesting daemon on one root is refused, naming the first; cron's `ingest`
    /// still runs beside it.
    @Test func oneDaemonPerRoot() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (watch, _) = try w.startServer(.directory)
        defer { watch.stop() }
        usleep(500_000)
        for second in [["server", "watch", "root"], ["server", "serve", "root", "--listen", "127.0.0.1:0"]] {
            let run = try w.sealdrop(second)
            #expect(run.status == 1, "\(second)")
            #expect(run.stderr.contains("an ingesting daemon already runs on root (pid "), "\(run.stderr)")
        }
        #expect(try w.sealdrop(["server", "ingest", "root", "--once"]).status == 0)
        #expect(watch.stop() == 0)
        let serve = try w.start(["server", "serve", "root", "--listen", "127.0.0.1:0"])
        #expect(serve.waitForLines(1).first?.hasPrefix("listening on https://127.0.0.1:") == true, "the lock went with the daemon")
        #expect(serve.stop() == 0)
    }

    /// cron's `ingest --once` and a running `watch` on one inbox never take one drop twice.
    @Test func cronAndWatchTogetherNeverDoubleIngest() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["erin"])
        try FileManager.default.createDirectory(atPath: w.path("photos"), withIntermediateDirectories: true)
        for i in 0..<40 {
            try FileManager.default.copyItem(atPath: Self.images + "/horse.png", toPath: w.path("photos/h\(i).png"))
        }
        try w.sealdrop(["seal", "photos", "--to", "root/encryption.crt", "--key", "erin.key", "-o", "sealed"])
        // Publish every envelope at once (rename from tmp/ into new/), then race the two.
        for file in try FileManager.default.contentsOfDirectory(atPath: w.path("sealed")) {
            try FileManager.default.moveItem(atPath: w.path("sealed/\(file)"), toPath: w.path("root/inbox/tmp/\(file)"))
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/tmp")) {
            rename(w.path("root/inbox/tmp/\(file)"), w.path("root/inbox/new/\(file)"))
        }
        let watch = try w.start(["server", "watch", "root", "--rescan", "1", "--batch-size", "4"])
        defer { watch.stop() }
        for _ in 0..<10 {
            let cron = try w.sealdrop(["server", "ingest", "root", "--once", "--batch-size", "4"])
            #expect(cron.status == 0, "\(cron.stderr)")
        }
        let deadline = Date().addingTimeInterval(60)
        while (try? FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/new")).count) != 0, Date() < deadline {
            usleep(100_000)
        }
        #expect(watch.stop() == 0)
        let status = try JSONSerialization.jsonObject(with: Data(try w.sealdrop(["server", "status", "root", "--json"]).stdout.utf8)) as? [String: Any]
        #expect(status?["images"] as? Int == 40)
        #expect(status?["notifications"] as? Int == 40)
        #expect(status?["quarantined"] as? Int == 0, "a drop taken twice would be quarantined as a replay")
        let log = try w.read("root/notifications.jsonl").split(separator: "\n")
        let seqs = log.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["seq"] as? Int }
        #expect(seqs == Array(1...40))
        #expect(try w.sealdrop(["server", "fsck", "root"]).status == 0)
    }
}

/// `register --renew`: a fresh certificate for the same key, before expiry, through the drop.
@Suite(.serialized) struct RenewalCLITests {
    @Test(arguments: Transport.allCases) func aUserRenewsTheirCertificateAndARevokedOneCannot(_ transport: Transport) throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let watch = try w.startServer(transport, registering: ["alice"]).daemon
        defer { watch.stop() }
        let before = try w.read("alice/alice.crt")
        let key = try w.read("alice/alice.key")
        let renewed = try w.sealdrop(["register", "--renew"], home: "alice")
        #expect(renewed.status == 0, "\(renewed.stderr)")
        #expect(renewed.stdout.contains("renewed \"alice\": certificate valid until"))
        #expect(try w.read("alice/alice.crt") != before)
        #expect(try w.read("alice/alice.key") == key, "the key is never replaced")
        #expect(try w.openssl(["verify", "-x509_strict", "-CAfile", "root/ca.crt", "alice/alice.crt"]).status == 0)
        let post = try w.sealdrop(["post", ServerFlowTests.images + "/coffee.gif"], home: "alice")
        #expect(post.status == 0, "\(post.stderr)")
        // A revoked user cannot renew: the refusal reaches them at once (the ingester's
        // through the drop; the gateway's at the request itself).
        #expect(try w.sealdrop(["server", "revoke", "root", "alice"]).status == 0)
        let refused = try w.sealdrop(["register", "--renew", "--timeout", "30"], home: "alice")
        #expect(refused.status == 1)
        let expected = switch transport {
        case .directory: "the server refused to renew the certificate: sender alice is revoked"
        case .https: "the server answered 403: alice is revoked on this server"
        }
        #expect(refused.stderr.contains(expected), "\(refused.stderr)")
        // Without --renew, register still needs its server and name.
        #expect(try w.sealdrop(["register"], home: "bob").status != 0)
    }
}
