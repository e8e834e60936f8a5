import ClusterSupport
import DropProtocol
import Foundation
import Testing

/// Several server nodes on one PostgreSQL catalogue (a throwaway cluster of Debian's
/// postgresql per test), driven as an administrator would: `server init --database`, then
/// `server init --join`.
@Suite struct ClusterTests {
    /// The password in a postgres:// URL.
    static func password(_ url: String) -> String {
        String(url.split(separator: "@")[0].split(separator: ":").last!)
    }

    static func mode(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    @Test func nodesJoinOneServerAndDecideNamesTogether() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let w = try Workspace()
        defer { w.cleanup() }

        let first = try w.sealdrop(["server", "init", "node1", "--database", cluster.url, "--bits", "2048"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("catalogue   postgres://sealdrop@127.0.0.1:"), "\(first.stdout)")
        #expect(Self.mode(w.path("node1/catalogue.url")) == 0o600)
        #expect(try w.read("node1/catalogue.url") == cluster.url + "\n")
        #expect(!w.exists("node1/sealdrop.sqlite"))

        // The second node: the server's keys and certificates as they are, its own TLS key.
        let second = try w.sealdrop(["server", "init", "node2", "--join", "node1", "--bits", "2048", "--hostname", "node2.example.org"])
        #expect(second.status == 0, "\(second.stderr)")
        for file in ["ca.crt", "ca.key", "encryption.crt", "encryption.key", "delivery.crt", "delivery.key", "catalogue.url"] {
            #expect(try w.read("node1/" + file) == w.read("node2/" + file), "\(file)")
        }
        #expect(Self.mode(w.path("node2/encryption.key")) == 0o600 && Self.mode(w.path("node2/catalogue.url")) == 0o600)
        #expect(try w.read("node1/tls.key") != w.read("node2/tls.key"))
        let tls = try w.openssl(["x509", "-in", w.path("node2/tls.crt"), "-noout", "-ext", "subjectAltName"])
        #expect(tls.stdout.contains("DNS:node2.example.org"), "\(tls.stdout)")
        #expect(try w.openssl(["verify", "-CAfile", w.path("node1/ca.crt"), w.path("node2/tls.crt")]).status == 0)

        // Refused, each with nothing written: a root of another CA on that database, a join
        // with the wrong passphrase, a join of a server on SQLite.
        let other = try w.sealdrop(["server", "init", "other", "--database", cluster.url, "--bits", "2048"])
        #expect(other.status != 0 && other.stderr.contains("belongs to another server") && other.stderr.contains("--join"), "\(other.stderr)")
        #expect(!w.exists("other/ca.key") && !w.exists("other/ca.crt"))
        let wrong = try w.sealdrop(["server", "init", "node3", "--join", "node1", "--bits", "2048"], passphrase: "not it")
        #expect(wrong.status != 0 && !w.exists("node3/ca.crt") && !w.exists("node3/encryption.key"), "\(wrong.stderr)")
        #expect(try w.sealdrop(["server", "init", "solo", "--bits", "2048"]).status == 0)
        let sqlite = try w.sealdrop(["server", "init", "node4", "--join", "solo", "--bits", "2048"])
        #expect(sqlite.status != 0 && sqlite.stderr.contains("keeps its catalogue in SQLite"), "\(sqlite.stderr)")
        #expect(!w.exists("node4/ca.crt"))

        // Each node ingests its own inbox; names and users are decided by the one database.
        let watchers = try ["node1", "node2"].map { try w.start(["server", "watch", $0, "--rescan", "600"]) }
        defer { watchers.forEach { _ = $0.stop() } }
        let alice = try w.sealdrop(["register", "--server", "node1", "--user", "alice", "--bits", "2048"], home: "alice")
        #expect(alice.status == 0, "\(alice.stderr)")
        let twin = try w.sealdrop(["register", "--server", "node2", "--user", "alice", "--bits", "2048"], home: "twin")
        #expect(twin.status != 0 && twin.stderr.contains("already registered"), "\(twin.stderr)")
        let bob = try w.sealdrop(["register", "--server", "node2", "--user", "bob", "--bits", "2048"], home: "bob")
        #expect(bob.status == 0, "\(bob.stderr)")
        #expect(try w.sealdrop(["post", ServerFlowTests.images + "/horse.png", "--name", "horse.png"], home: "alice").status == 0)
        let taken = try w.sealdrop(["post", ServerFlowTests.images + "/coffee.gif", "--name", "horse.png"], home: "bob")
        #expect(taken.status != 0 && taken.stdout.contains("the name \"horse.png\" belongs to alice"), "\(taken.stdout) \(taken.stderr)")

        // alice follows node1; bob's image, ingested by node2, reaches her log through
        // LISTEN/NOTIFY, not a rescan (those come every 600 s here).
        let follower = try w.start(["tail", "--follow", "--json"], home: "alice")
        defer { follower.stop() }
        #expect(follower.waitForLines(1).count == 1)
        #expect(try w.sealdrop(["post", ServerFlowTests.images + "/coffee.gif"], home: "bob").status == 0)
        let lines = follower.waitForLines(2, timeout: 20)
        let seen = Date()
        let coffee = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["name"] as? String == "coffee.gif" }
        #expect(coffee?["seq"] as? Int == 2, "\(lines)")
        // The log's own line carries the commit time to the millisecond.
        let logged = try w.read("node2/notifications.jsonl").split(separator: "\n").last
            .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        if let time = (logged?["time"] as? String).flatMap(LogTime.parse) {
            print("node2's notification seen by a follower of node1 after \(Int(seen.timeIntervalSince(time) * 1000)) ms (at most; polled every 50 ms)")
        }

        // Any node serves any image: bob's node did not ingest alice's, and restores its blob
        // from the catalogue, checked, to answer him.
        #expect(try w.storedBlobs(root: "node2").count == 1)
        let fetched = try w.sealdrop(["fetch", "horse.png", "-o", "horse-copy.png"], home: "bob")
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: w.path("horse-copy.png")))
                == Data(contentsOf: URL(fileURLWithPath: ServerFlowTests.images + "/horse.png")))
        #expect(try w.storedBlobs(root: "node2").count == 2)

        for node in ["node1", "node2"] {
            let fsck = try w.sealdrop(["server", "fsck", node])
            #expect(fsck.status == 0, "\(node): \(fsck.stdout) \(fsck.stderr)")
            let status = try w.sealdrop(["server", "status", node, "--json"])
            let fields = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect(fields?["users"] as? Int == 2 && fields?["images"] as? Int == 2, "\(node): \(status.stdout)")
            #expect((fields?["catalogue"] as? String)?.hasPrefix("postgres://sealdrop@127.0.0.1:") == true)
            #expect(!status.stdout.contains(Self.password(cluster.url)))
        }

        // With its daemon stopped, node2's log falls behind the server's: behind is not broken.
        watchers[1].stop()
        #expect(try w.sealdrop(["post", ServerFlowTests.images + "/chelsea.webp"], home: "alice").status == 0)
        #expect(Self.logLines(w, "node2").count == 2 && Self.logLines(w, "node1").count == 3)
        let behind = try w.sealdrop(["server", "fsck", "node2"])
        #expect(behind.status == 0, "\(behind.stdout) \(behind.stderr)")

        // The URL holds the password: readable by others, it is refused with the fix.
        chmod(w.path("node2/catalogue.url"), 0o644)
        let exposed = try w.sealdrop(["server", "status", "node2"])
        #expect(exposed.status != 0 && exposed.stderr.contains("chmod 600"), "\(exposed.stderr)")
    }
}

extension ClusterTests {
    /// `node1` on a fresh database and `node2` joined to it, each with a `watch` daemon (the
    /// caller stops them), `alice` registered through node1 and `bob` through node2.
    static func twoWatchedNodes(_ w: Workspace, cluster: PostgresCluster) throws -> [Background] {
        guard try w.sealdrop(["server", "init", "node1", "--database", cluster.url, "--bits", "2048"]).status == 0,
              try w.sealdrop(["server", "init", "node2", "--join", "node1", "--bits", "2048"]).status == 0 else {
            throw UsageError(message: "server init failed")
        }
        let watchers = try ["node1", "node2"].map { try w.start(["server", "watch", $0, "--rescan", "600"]) }
        for (user, node) in [("alice", "node1"), ("bob", "node2")] {
            let run = try w.sealdrop(["register", "--server", node, "--user", user, "--bits", "2048"], home: user)
            guard run.status == 0 else {
                watchers.forEach { $0.stop() }
                throw UsageError(message: "register \(user): \(run.stderr)")
            }
        }
        return watchers
    }

    /// A folder `name` of `count` copies of horse.png, named PREFIX-N.png, sealed by `user`
    /// for the server into `name.sealed/`; the envelopes' paths.
    static func sealedFolder(_ w: Workspace, _ name: String, prefix: String, count: Int, user: String) throws -> [String] {
        try FileManager.default.createDirectory(atPath: w.path(name), withIntermediateDirectories: true)
        for n in 0..<count {
            try FileManager.default.copyItem(atPath: ServerFlowTests.images + "/horse.png", toPath: w.path("\(name)/\(prefix)-\(n).png"))
        }
        let sealed = try w.sealdrop(["seal", name, "--to", "node1/encryption.crt", "--key", "\(user)/\(user).key", "-o", name + ".sealed"])
        guard sealed.status == 0 else { throw UsageError(message: "seal: \(sealed.stderr)") }
        return (0..<count).map { w.path("\(name).sealed/\(prefix)-\($0).png.seal") }
    }

    /// Drops `envelope` into `node`'s inbox as a client does: written in tmp/, renamed into new/.
    static func drop(_ w: Workspace, _ envelope: String, into node: String, as name: String) throws {
        let temporary = w.path("\(node)/inbox/tmp/\(name)")
        try FileManager.default.copyItem(atPath: envelope, toPath: temporary)
        guard rename(temporary, w.path("\(node)/inbox/new/\(name)")) == 0 else { throw UsageError(message: "rename \(name)") }
    }

    /// The reasons in `node`'s quarantine.
    static func quarantineReasons(_ w: Workspace, _ node: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: w.path("\(node)/quarantine")).filter { $0.hasSuffix(".reason.json") }
            .compactMap { file in
                let data = try Data(contentsOf: URL(fileURLWithPath: w.path("\(node)/quarantine/\(file)")))
                return (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["reason"] as? String
            }
    }

    /// Two nodes racing, twenty times each at once: for one envelope dropped in both inboxes,
    /// and for one name posted by alice to node1 and by bob to node2. Each race has exactly one
    /// winner; the loser's drop is quarantined with the reason, on whichever node lost.
    @Test func twoNodesRacingForANameOrAnEnvelopeHaveOneWinner() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let w = try Workspace()
        defer { w.cleanup() }
        let watchers = try Self.twoWatchedNodes(w, cluster: cluster)
        defer { watchers.forEach { _ = $0.stop() } }
        let rounds = 20
        let twice = try Self.sealedFolder(w, "twice", prefix: "twice", count: rounds, user: "alice")
        let aliceNames = try Self.sealedFolder(w, "alice-names", prefix: "contested", count: rounds, user: "alice")
        let bobNames = try Self.sealedFolder(w, "bob-names", prefix: "contested", count: rounds, user: "bob")
        for n in 0..<rounds {
            try Self.drop(w, twice[n], into: "node1", as: "twice-\(n).seal")
            try Self.drop(w, twice[n], into: "node2", as: "twice-\(n).seal")
            try Self.drop(w, aliceNames[n], into: "node1", as: "alice-\(n).seal")
            try Self.drop(w, bobNames[n], into: "node2", as: "bob-\(n).seal")
        }
        // Settled when both inboxes and work queues are empty and every drop is accounted for.
        let deadline = Date().addingTimeInterval(120)
        var reasons: [String] = []
        while Date() < deadline {
            reasons = try Self.quarantineReasons(w, "node1") + Self.quarantineReasons(w, "node2")
            if reasons.count >= 2 * rounds { break }
            usleep(200_000)
        }
        usleep(500_000)
        reasons = try Self.quarantineReasons(w, "node1") + Self.quarantineReasons(w, "node2")
        #expect(reasons.filter { $0.contains("replay") }.count == rounds, "\(reasons)")
        #expect(reasons.filter { $0.contains("belongs to") }.count == rounds, "\(reasons)")
        #expect(reasons.count == 2 * rounds)

        let listed = try w.sealdrop(["list", "--json"], home: "alice")
        let images = try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: Any]] ?? []
        #expect(images.count == 2 * rounds, "\(listed.stdout) \(listed.stderr)")
        #expect(Set(images.compactMap { $0["name"] as? String }).count == 2 * rounds)
        #expect(images.filter { ($0["name"] as? String)?.hasPrefix("twice-") == true }.allSatisfy { $0["owner"] as? String == "alice" })
        // One chain, gap-free, the same on both nodes.
        let logs = try ["node1", "node2"].map { try w.read("\($0)/notifications.jsonl") }
        #expect(logs[0] == logs[1])
        let seqs = logs[0].split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .compactMap { $0["seq"] as? Int }
        #expect(seqs == Array(1...(2 * rounds)))
        for node in ["node1", "node2"] {
            let fsck = try w.sealdrop(["server", "fsck", node])
            #expect(fsck.status == 0, "\(node): \(fsck.stdout) \(fsck.stderr)")
        }
    }
}

extension ClusterTests {
    /// A TCP port on loopback that nothing listens on now (for a server restarted on it).
    static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw UsageError(message: "no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The lines of `node`'s notification log.
    static func logLines(_ w: Workspace, _ node: String) -> [Substring] {
        ((try? w.read("\(node)/notifications.jsonl")) ?? "").split(separator: "\n")
    }

    /// Three nodes on one database, each serving HTTPS on loopback and ingesting its own
    /// inbox; 500 small envelopes dropped into each, while node3 is killed with SIGKILL twice
    /// mid-ingestion and restarted. Every envelope is ingested exactly once, `seq` runs
    /// 1...1500 with no gap, each node's follower (over HTTPS) sees all 1500, fsck is clean.
    @Test func threeNodesIngestEveryEnvelopeOnceThroughKills() throws {
        let cluster = try PostgresCluster()
        defer { cluster.stop() }
        let w = try Workspace()
        defer { w.cleanup() }
        let perNode = 500, nodes = [1, 2, 3]
        #expect(try w.sealdrop(["server", "init", "node1", "--database", cluster.url, "--bits", "2048"]).status == 0)
        for n in [2, 3] { #expect(try w.sealdrop(["server", "init", "node\(n)", "--join", "node1", "--bits", "2048"]).status == 0) }
        let ports = try nodes.map { _ in try Self.unusedPort() }
        func serve(_ n: Int) throws -> Background {
            let daemon = try w.start(["server", "serve", "node\(n)", "--listen", "127.0.0.1:\(ports[n - 1])", "--rescan", "5"])
            guard daemon.waitForLines(1).first?.hasPrefix("listening on https://") == true else {
                daemon.stop()
                throw UsageError(message: "node\(n) did not start: \(daemon.errorText)")
            }
            return daemon
        }
        var daemons = try nodes.map(serve)
        defer { daemons.forEach { _ = $0.stop() } }

        for n in nodes {
            let poster = try w.sealdrop(["register", "--server", "node\(n)", "--user", "poster\(n)", "--bits", "2048"], home: "poster\(n)")
            #expect(poster.status == 0, "\(poster.stderr)")
            let follower = try w.sealdrop(["register", "--server", "https://127.0.0.1:\(ports[n - 1])", "--user", "follower\(n)", "--bits", "2048"],
                                          home: "follower\(n)")
            #expect(follower.status == 0, "\(follower.stderr)")
            try FileManager.default.createDirectory(atPath: w.path("images\(n)"), withIntermediateDirectories: true)
            for i in 0..<perNode {
                try FileManager.default.copyItem(atPath: ServerFlowTests.images + "/horse.png", toPath: w.path("images\(n)/n\(n)-\(i).png"))
            }
        }
        let followers = try nodes.map { try w.start(["tail", "--follow", "--json"], home: "follower\($0)") }
        defer { followers.forEach { _ = $0.stop() } }
        // Each envelope its own drop, as many clients would send them.
        let posts = try nodes.map { try w.start(["post", "images\($0)", "--no-bundle", "--no-wait"], home: "poster\($0)") }
        defer { posts.forEach { _ = $0.stop() } }

        // node3 is killed twice while the envelopes are being ingested, and restarted.
        var waitingAtKills: [Int] = []
        // Progress is counted in node1's log: poster3's envelopes are node3's work alone.
        func ingestedByNode3() -> Int { Self.logLines(w, "node1").filter { $0.contains("\"owner\":\"poster3\"") }.count }
        // Killed once after its first commit, with the rest claimed or waiting; then a second
        // after restarting, while it takes up what it had claimed.
        for kill in 0..<2 {
            let deadline = Date().addingTimeInterval(300)
            if kill == 0 {
                while ingestedByNode3() == 0, Date() < deadline { usleep(20_000) }
            } else {
                usleep(700_000)
            }
            daemons[2].kill()
            let inbox = (try? FileManager.default.contentsOfDirectory(atPath: w.path("node3/inbox/new")))?.count ?? 0
            let claimed = (try? FileManager.default.contentsOfDirectory(atPath: w.path("node3/work")))?.count ?? 0
            print("node3 killed: \(inbox) drops in its inbox, \(claimed) files in work/, \(ingestedByNode3()) of poster3's ingested")
            waitingAtKills.append(inbox + claimed)
            usleep(200_000)
            daemons[2] = try serve(3)
        }
        for (n, post) in zip(nodes, posts) {
            #expect(post.stop(waitingFor: 300) == 0, "poster\(n): \(post.errorText)")
        }
        // The kills hit node3 with drops in hand (posts still arriving, or claimed).
        print("node3 was killed with \(waitingAtKills) drops waiting or claimed")
        #expect(waitingAtKills.allSatisfy { $0 > 0 })

        let expected = Set(nodes.flatMap { n in (0..<perNode).map { "n\(n)-\($0).png" } })
        for (n, follower) in zip(nodes, followers) {
            let lines = follower.waitForLines(expected.count, timeout: 300)
            let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let seqs = records.compactMap { $0["seq"] as? Int }
            let names = Set(records.compactMap { $0["name"] as? String })
            #expect(seqs == Array(1...expected.count),
                    "follower of node\(n): \(seqs.count) lines, \(Set(seqs).count) seqs, missing \(Set(1...expected.count).subtracting(seqs).sorted().prefix(10)); stderr: \(follower.errorText)")
            #expect(names == expected, "follower of node\(n): missing \(expected.subtracting(names).sorted().prefix(10))")
        }
        // Any node's status shows every node, as its daemon last reported (each wake-up, and
        // each rescan at the latest).
        var reported: [[String: Any]] = []
        let deadline = Date().addingTimeInterval(30)
        repeat {
            let status = try w.sealdrop(["server", "status", "node2", "--json"])
            reported = (try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
            if reported.count == 3, reported.allSatisfy({ $0["log_seq"] as? Int == expected.count && $0["inbox_backlog"] as? Int == 0 }) { break }
            usleep(500_000)
        } while Date() < deadline
        #expect(reported.compactMap { ($0["name"] as? String)?.split(separator: "/").last.map(String.init) }.sorted() == ["node1", "node2", "node3"])
        #expect(reported.allSatisfy { $0["log_seq"] as? Int == expected.count && $0["inbox_backlog"] as? Int == 0 && $0["quarantined"] as? Int == 0 },
                "\(reported)")
        let logs = nodes.map { Self.logLines(w, "node\($0)") }
        #expect(logs[0].count == expected.count && logs[0] == logs[1] && logs[1] == logs[2])
        for n in nodes {
            let status = try w.sealdrop(["server", "status", "node\(n)", "--json"])
            let fields = try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            #expect(fields?["images"] as? Int == expected.count && fields?["quarantined"] as? Int == 0
                    && fields?["inbox_backlog"] as? Int == 0, "node\(n): \(status.stdout)")
            let fsck = try w.sealdrop(["server", "fsck", "node\(n)"])
            #expect(fsck.status == 0, "node\(n): \(fsck.stdout) \(fsck.stderr)")
            // Each poster is told of every one of its envelopes.
            let told = try w.sealdrop(["status", "--json"], home: "poster\(n)")
            let report = try JSONSerialization.jsonObject(with: Data(told.stdout.utf8)) as? [String: Any]
            #expect(report?["accepted"] as? Int == perNode && (report?["pending"] as? [Any])?.isEmpty == true, "poster\(n): \(told.stdout)")
        }
    }
}
