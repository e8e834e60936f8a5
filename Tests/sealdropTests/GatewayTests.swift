import Foundation
import Testing

/// `server serve` seen from outside: only TLS to a pinned CA, only registered users, errors
/// as one JSON sentence with the right status, limits before any work, a graceful stop.
@Suite(.serialized) struct GatewayTests {
    static let images = ServerFlowTests.images

    /// Two users on the same machine whose uid cannot read the server root: everything goes
    /// through HTTPS. alice posts a folder, bob follows the notifications live and fetches
    /// every image byte for byte.
    @Test(.enabled(if: getuid() == 0, "needs root to run the clients as another uid"))
    func usersWhoCannotReadTheRootUseTheGateway() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (serve, server) = try w.startServer(.https)
        defer { serve.stop() }
        let nobody: uid_t = 65534
        #expect(chmod(w.path("root"), 0o700) == 0)
        try FileManager.default.createDirectory(atPath: w.path("photos"), withIntermediateDirectories: true)
        let photos = ["coffee.gif", "rocket.jpg", "horse.png"]
        for photo in photos { try FileManager.default.copyItem(atPath: Self.images + "/" + photo, toPath: w.path("photos/" + photo)) }
        for folder in ["alice", "bob", "got", "photos"] {
            try FileManager.default.createDirectory(atPath: w.path(folder), withIntermediateDirectories: true)
            #expect(chown(w.path(folder), nobody, gid_t(nobody)) == 0)
        }
        #expect(try w.run(as: nobody, ["/bin/ls", w.path("root")]).status != 0, "the root is closed to the clients")
        let fp = try w.caFingerprint()
        for user in ["alice", "bob"] {
            let run = try w.sealdrop(["register", "--server", server, "--user", user, "--expect-fingerprint", fp, "--bits", "2048"],
                                     home: user, user: nobody)
            #expect(run.status == 0, "\(user): \(run.stderr)")
        }
        let follower = try w.start(["tail", "--follow"], home: "bob", user: nobody)
        defer { follower.stop() }
        usleep(500_000)
        let post = try w.sealdrop(["post", w.path("photos")], home: "alice", user: nobody)
        #expect(post.status == 0, "\(post.stderr)")
        let lines = follower.waitForLines(3)
        #expect(lines.count == 3 && photos.allSatisfy { photo in lines.contains { $0.contains("alice posted \(photo)") } }, "\(lines)")
        let fetch = try w.sealdrop(["fetch", "--all", "-o", w.path("got")], home: "bob", user: nobody)
        #expect(fetch.status == 0, "\(fetch.stderr)")
        for photo in photos {
            #expect(FileManager.default.contentsEqual(atPath: w.path("got/" + photo), andPath: Self.images + "/" + photo), "\(photo)")
        }
    }

    /// A man in the middle (another CA's server), a certificate our CA issued but the
    /// catalogue does not know, a revoked user and plain HTTP: each refused in one clear line.
    @Test func strangersAndImpostorsAreRefused() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (serve, server) = try w.startServer(.https, registering: ["alice", "bob"])
        defer { serve.stop() }
        #expect(try w.sealdrop(["post", Self.images + "/coffee.gif"], home: "alice").status == 0)

        // Another server on the same host answers for alice's URL: its TLS certificate is
        // from another CA, so her profile refuses it before sending anything.
        try w.sealdrop(["server", "init", "other", "--bits", "2048"])
        let impostor = try w.start(["server", "serve", "other", "--listen", "127.0.0.1:0", "--no-ingest"])
        defer { impostor.stop() }
        let impostorURL = String(try #require(impostor.waitForLines(1).first).dropFirst("listening on ".count))
        try FileManager.default.copyItem(atPath: w.path("alice"), toPath: w.path("fooled"))
        try w.write(try w.read("alice/profile.json").replacingOccurrences(of: server, with: impostorURL), to: "fooled/profile.json")
        let fooled = try w.sealdrop(["tail"], home: "fooled")
        #expect(fooled.status == 1)
        #expect(fooled.stderr.contains("the server's TLS certificate is not from the CA this profile pinned"), "\(fooled.stderr)")
        #expect(fooled.stderr.split(separator: "\n").count == 1)

        // A certificate from this CA (issued on a copy of the root) for a user the server
        // never registered: refused at the handshake.
        try FileManager.default.copyItem(atPath: w.path("root"), toPath: w.path("copy"))
        try w.sealdrop(["keygen", "--out", "eve", "--bits", "2048"])
        try w.sealdrop(["request", "--key", "eve.key", "--user", "eve", "-o", "eve.csr"])
        #expect(try w.sealdrop(["server", "issue", "copy", "eve.csr", "-o", "eve.crt"]).status == 0)
        try FileManager.default.copyItem(atPath: w.path("alice"), toPath: w.path("eve-home"))
        try w.write(try w.read("alice/profile.json").replacingOccurrences(of: "\"alice\"", with: "\"eve\""), to: "eve-home/profile.json")
        for ext in ["key", "crt"] { try FileManager.default.copyItem(atPath: w.path("eve.\(ext)"), toPath: w.path("eve-home/eve.\(ext)")) }
        let stranger = try w.sealdrop(["tail"], home: "eve-home")
        #expect(stranger.status == 1)
        #expect(stranger.stderr.contains("the server refused the TLS handshake"), "\(stranger.stderr)")
        let strangerPost = try w.sealdrop(["post", Self.images + "/horse.png"], home: "eve-home")
        #expect(strangerPost.status == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/new")).isEmpty)

        // Revoked while registered: told so at the next request.
        #expect(try w.sealdrop(["server", "revoke", "root", "alice"]).status == 0)
        let revoked = try w.sealdrop(["tail"], home: "alice")
        #expect(revoked.status == 1)
        #expect(revoked.stderr.contains("403: alice is revoked on this server"), "\(revoked.stderr)")
        #expect(try w.sealdrop(["tail"], home: "bob").status == 0, "the others go on")

        // Plain HTTP is never spoken.
        let plain = try w.sealdrop(["register", "--server", server.replacingOccurrences(of: "https://", with: "http://"), "--user", "pat"], home: "pat")
        #expect(plain.status == 1)
        #expect(plain.stderr.contains("plain HTTP is refused"), "\(plain.stderr)")
        let raw = try w.https(server, "GET /v1/outbox HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(raw.contains("HTTP/1.1 401"), "no client certificate: \(raw)")
        #expect(raw.contains(#"{"error":"this needs your client certificate"#))
        #expect(serve.stop() == 0, "serve stops cleanly on SIGTERM")
    }

    /// Errors are JSON sentences with the standard status; limits are enforced before any
    /// byte is stored; nothing of a refused upload stays in the inbox.
    /// A folder posted over HTTPS travels as bundles (FORMAT.md §13), as to a directory: one
    /// upload for a signed group, and each image its own verdict.
    @Test func aFolderIsUploadedAsOneBundle() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (serve, _) = try w.startServer(.https, registering: ["alice"])
        defer { serve.stop() }
        try FileManager.default.createDirectory(atPath: w.path("photos"), withIntermediateDirectories: true)
        let photos = ["coffee.gif", "rocket.jpg", "horse.png"]
        for photo in photos { try FileManager.default.copyItem(atPath: Self.images + "/" + photo, toPath: w.path("photos/" + photo)) }
        // post waits for each verdict: 0 only when every image was accepted.
        let post = try w.sealdrop(["post", "photos"], home: "alice")
        #expect(post.status == 0, "\(post.stdout) \(post.stderr)")
        let status = try JSONSerialization.jsonObject(with: Data(try w.sealdrop(["status", "--json"], home: "alice").stdout.utf8)) as? [String: Any]
        #expect(status?["accepted"] as? Int == photos.count, "\(String(describing: status))")
        let uploads = serve.errorText.split(separator: "\n").filter { $0.contains(" upload ") && $0.contains("user=alice") }
        #expect(uploads.count == 1, "\(uploads)")
        // --no-bundle sends a drop per image.
        for photo in photos { try FileManager.default.moveItem(atPath: w.path("photos/" + photo), toPath: w.path("photos/again-" + photo)) }
        let single = try w.sealdrop(["post", "photos", "--no-bundle"], home: "alice")
        #expect(single.status == 0, "\(single.stderr)")
        let after = serve.errorText.split(separator: "\n").filter { $0.contains(" upload ") && $0.contains("user=alice") }
        #expect(after.count == 1 + photos.count, "\(after)")
    }

    /// An administrator's command on the root of a running daemon (`server status`) leaves
    /// the daemon's catalogue alone: the daemon had dropped its own locks on the database by
    /// opening and closing the file, so the command took itself for the last connection and
    /// deleted the -wal and -shm, and the daemon's next commits failed ("disk I/O error").
    @Test func aCommandBesideTheDaemonLeavesItsCatalogueAlone() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (serve, _) = try w.startServer(.https, registering: ["alice"])
        defer { serve.stop() }
        #expect(try w.sealdrop(["server", "status", "root", "--json"]).status == 0)
        #expect(w.exists("root/sealdrop.sqlite-shm") && w.exists("root/sealdrop.sqlite-wal"))
        try FileManager.default.createDirectory(atPath: w.path("photos"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.images + "/horse.png", toPath: w.path("photos/horse.png"))
        let post = try w.sealdrop(["post", "photos", "--wait", "20"], home: "alice")
        #expect(post.status == 0, "\(post.stderr) \(serve.errorText)")
        #expect(!serve.errorText.contains("disk I/O error"), "\(serve.errorText)")
    }

    @Test func errorsAndLimits() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (serve, server) = try w.startServer(.https, registering: ["alice"])
        defer { serve.stop() }
        let alice = (crt: "alice/alice.crt", key: "alice/alice.key")
        func ask(_ head: String, body: String = "") throws -> String {
            try w.https(server, head + "\r\nHost: localhost\r\nConnection: close\r\n\r\n" + body, certificate: alice)
        }
        let missing = try ask("GET /v1/nothing HTTP/1.1")
        #expect(missing.contains("HTTP/1.1 404") && missing.contains(#"{"error":"there is nothing at /v1/nothing"#), "\(missing)")
        let huge = try ask("POST /v1/drops HTTP/1.1\r\nContent-Length: 10000000000")
        #expect(huge.contains("HTTP/1.1 413") && huge.contains("an upload is at most"), "\(huge)")
        let chunked = try ask("POST /v1/drops HTTP/1.1\r\nTransfer-Encoding: chunked", body: "4\r\nSEAL\r\n0\r\n\r\n")
        #expect(chunked.contains("HTTP/1.1 411"), "\(chunked)")
        let junk = try ask("POST /v1/drops HTTP/1.1\r\nContent-Length: 12", body: "hello, world")
        #expect(junk.contains("HTTP/1.1 400") && junk.contains("not a sealdrop envelope"), "\(junk)")
        let badCursor = try ask("GET /v1/log?after=-3 HTTP/1.1")
        #expect(badCursor.contains("HTTP/1.1 400"), "\(badCursor)")
        let otherOutbox = try ask("GET /v1/outbox/..%2Fbob%2Fx HTTP/1.1")
        #expect(otherOutbox.contains("HTTP/1.1 400") || otherOutbox.contains("HTTP/1.1 404"), "\(otherOutbox)")
        let head = try ask("GET /v1/log/head HTTP/1.1")
        #expect(head.contains("HTTP/1.1 200") && head.contains(#""seq":0"#), "the ingester signs the empty log: \(head)")
        // A registration that is no certificate request is refused before it reaches the inbox.
        let badCSR = try w.https(server, "POST /v1/registrations HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        #expect(badCSR.contains("HTTP/1.1 400") && badCSR.contains("not a usable certificate request"), "\(badCSR)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/new")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/tmp")).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: w.path("root/quarantine")).isEmpty)
    }
}
