import Foundation
import Testing

/// `sealdrop gallery` as a browser reaches it, through curl on loopback, with the profile's
/// server a directory or a gateway: who may use it (the run's token, then its cookie; this
/// origin; the page's CSRF token; this Host), the live feed, an image opened with its
/// provenance, a post, and a tampered blob shown as a failure.
@Suite struct GalleryTests {
    struct Page {
        let workspace: Workspace
        let base: String
        let url: String

        /// curl against the gallery with the cookie jar `jar` (nil: no cookie); returns
        /// status, headers and body.
        func curl(_ path: String, jar: String? = "jar", _ arguments: [String] = []) throws -> (status: Int, headers: String, body: String) {
            var command = "curl -s -D headers.txt -o body.txt -w '%{http_code}'"
            if let jar { command += " -b \(jar) -c \(jar)" }
            for argument in arguments { command += " '" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'" }
            command += " '\(path.hasPrefix("http") ? path : base + path)'"
            let run = try workspace.shell(command)
            let body = try Data(contentsOf: URL(fileURLWithPath: workspace.path("body.txt")))
            return (Int(run.stdout) ?? 0, try workspace.read("headers.txt"), String(decoding: body, as: UTF8.self))
        }

        func csrf() throws -> String {
            let page = try curl("/").body
            let marker = "name=\"csrf-token\" content=\""
            guard let start = page.range(of: marker)?.upperBound else { throw UsageError(message: "no CSRF token in the page") }
            return String(page[start...].prefix(64))
        }
    }

    @Test(.timeLimit(.minutes(3)), arguments: Transport.allCases)
    func theGalleryServesOnlyItsOwnPageAndShowsVerifiedImages(transport: Transport) throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let daemon = try workspace.startServer(transport, registering: ["alice", "bob"]).daemon
        defer { daemon.stop() }
        let (gallery, url) = try workspace.startGallery(home: "alice")
        defer { gallery.stop() }
        #expect(url.hasPrefix("http://127.0.0.1:") && url.contains("/?token="), "\(url)")
        let page = Page(workspace: workspace, base: String(url.prefix { $0 != "?" }.dropLast()), url: url)

        // Without the token, with a wrong one, from another Host: 403.
        #expect(try page.curl("/api/status", jar: nil).status == 403)
        #expect(try page.curl("/?token=0000", jar: nil).status == 403)
        // The token once: a cookie and a redirect that drops it from the address.
        let welcome = try page.curl(url)
        #expect(welcome.status == 303 && welcome.headers.contains("HttpOnly; SameSite=Strict"), "\(welcome.headers)")
        let status = try page.curl("/api/status")
        #expect(status.status == 200 && status.body.contains("\"user\":\"alice\""), "\(status.body)")
        #expect(status.headers.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"), "\(status.headers)")
        #expect(try page.curl("/api/status", ["-H", "Host: attacker.example:80"]).status == 403)
        #expect(try page.curl("/api/status", ["-H", "Origin: http://attacker.example"]).status == 403)
        // A state-changing request needs the page's CSRF token, whatever the cookie.
        #expect(try page.curl("/api/open", ["-X", "POST", "-d", "{\"name\":\"x\"}"]).status == 403)
        #expect(try page.curl("/api/open", ["-X", "POST", "-H", "X-CSRF-Token: 00", "-d", "{\"name\":\"x\"}"]).status == 403)
        let csrf = try page.csrf()

        // bob posts from the CLI: the live stream says so, the feed shows it.
        let images = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("fixtures/images")
        try FileManager.default.copyItem(atPath: images.appendingPathComponent("camera.png").path, toPath: workspace.path("camera.png"))
        let stream = try Background(
            command: ["/usr/bin/curl", "-s", "-N", "-b", workspace.path("jar"), page.base + "/api/events"], directory: workspace.url,
            environment: ProcessInfo.processInfo.environment)
        // curl inherits the test process's blocked SIGTERM: it is killed.
        defer { stream.kill() }
        #expect(stream.waitForLines(4, timeout: 10).contains("event: hello"))
        #expect(try workspace.sealdrop(["post", "camera.png"], home: "bob").status == 0)
        let announced = stream.waitForLines(9, timeout: 10)
        #expect(announced.contains("event: seq"), "\(announced)")
        let feed = try page.curl("/api/feed")
        #expect(feed.body.contains("\"name\":\"camera.png\"") && feed.body.contains("\"owner\":\"bob\""), "\(feed.body)")

        // alice opens it: verified, signed by bob, the bytes bob posted.
        let opened = try page.curl("/api/open", ["-X", "POST", "-H", "X-CSRF-Token: \(csrf)", "-d", "{\"name\":\"camera.png\"}"])
        #expect(opened.status == 200 && opened.body.contains("\"signed_by\":\"CN=bob\""), "\(opened.body)")
        let image = try page.curl("/api/image?name=camera.png")
        #expect(image.status == 200 && image.headers.contains("Content-Type: image/png"))
        #expect(FileManager.default.contentsEqual(atPath: workspace.path("body.txt"), andPath: workspace.path("camera.png")))

        // alice uploads two images through the page, then posts them together: one batch
        // (one batch key, one signature), each with the server's verdict; bob's tail sees both.
        func upload(_ name: String) throws -> String {
            let staged = try page.curl("/api/upload", ["-X", "POST", "-H", "X-CSRF-Token: \(csrf)", "-H", "X-Image-Name: \(name)",
                                                       "--data-binary", "@camera.png"])
            let object = try JSONSerialization.jsonObject(with: Data(staged.body.utf8)) as? [String: Any]
            return try #require(object?["upload"] as? String, "\(staged.body)")
        }
        #expect(try page.curl("/api/upload", ["-X", "POST", "-H", "X-Image-Name: x.png", "--data-binary", "@camera.png"]).status == 403)
        let first = try upload("from%20the%20page.png")
        let second = try upload("second.png")
        let clash = try upload("second.png")
        let post = { (ids: [String]) in
            try page.curl("/api/post", ["-X", "POST", "-H", "X-CSRF-Token: \(csrf)", "-d", "{\"uploads\":[\(ids.map { "\"\($0)\"" }.joined(separator: ","))]}"])
        }
        let posted = try post([first, second, clash])
        #expect(posted.status == 200, "\(posted.body)")
        let results = (try JSONSerialization.jsonObject(with: Data(posted.body.utf8)) as? [String: Any])?["results"] as? [[String: Any]] ?? []
        #expect(results.map { $0["state"] as? String } == ["accepted", "accepted", "failed"], "\(posted.body)")
        #expect((results.last?["reason"] as? String)?.contains("named second.png too") == true, "\(posted.body)")
        // Posted uploads are gone: posting them again is refused, and nothing waits in the spool.
        #expect(try post([first]).status == 404)
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.path("alice/spool")).filter { $0.hasSuffix(".upload") }.isEmpty)
        let tail = try workspace.sealdrop(["tail"], home: "bob")
        #expect(tail.stdout.contains("alice posted from the page.png") && tail.stdout.contains("alice posted second.png"), "\(tail.stdout)")
        let fromPage = try workspace.storedBlobs().map { try workspace.sealdrop(["inspect", $0, "--json"]).stdout }.filter { $0.contains("\"sender\":\"alice\"") }
        #expect(fromPage.count == 2 && fromPage.allSatisfy { $0.contains("\"key_mode\":\"batch\"") && $0.contains("Merkle root") }, "\(fromPage)")

        // A tampered blob on the server: the failure is said, and nothing of it is served.
        for blob in try workspace.storedBlobs() {
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: blob)))
            bytes[bytes.count - 40] ^= 0x01
            chmod(blob, 0o644)
            try Data(bytes).write(to: URL(fileURLWithPath: blob))
        }
        let failed = try page.curl("/api/open", ["-X", "POST", "-H", "X-CSRF-Token: \(csrf)", "-d", "{\"name\":\"camera.png\"}"])
        #expect(failed.status == 422 && failed.body.contains("\"verified\":\"no\""), "\(failed.body)")
        #expect(try page.curl("/api/image?name=camera.png").status == 404)
    }

    @Test func aNonLoopbackAddressNeedsListenAnywhere() throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let refused = try workspace.sealdrop(["gallery", "--listen", "0.0.0.0:0"])
        #expect(refused.status != 0 && refused.stderr.contains("--listen-anywhere"), "\(refused.stderr)")
    }
}
