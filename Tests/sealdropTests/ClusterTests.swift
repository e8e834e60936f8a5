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

        // The URL holds the password: readable by others, it is refused with the fix.
        chmod(w.path("node2/catalogue.url"), 0o644)
        let exposed = try w.sealdrop(["server", "status", "node2"])
        #expect(exposed.status != 0 && exposed.stderr.contains("chmod 600"), "\(exposed.stderr)")
    }
}
