import Foundation
import Testing

/// A W3C WebDriver client for Debian's chromedriver driving headless Chromium, over curl on
/// loopback: enough to load a page, find, click, type into a file input, run a script and
/// take a screenshot.
struct WebDriver {
    let workspace: Workspace
    let base: String
    let session: String
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// One WebDriver command; the decoded `value` of the answer.
    static func call(_ workspace: Workspace, _ method: String, _ url: String, _ body: Any? = nil) throws -> Any? {
        var command = "curl -s -X \(method) -H 'Content-Type: application/json' '\(url)'"
        if let body {
            try JSONSerialization.data(withJSONObject: body).write(to: URL(fileURLWithPath: workspace.path("webdriver.json")))
            command += " --data-binary @webdriver.json"
        }
        let run = try workspace.shell(command)
        guard let answer = try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] else {
            throw UsageError(message: "chromedriver answered \(method) \(url) with: \(run.stdout) \(run.stderr)")
        }
        if let value = answer["value"] as? [String: Any], let error = value["error"] as? String {
            throw UsageError(message: "chromedriver: \(error): \(value["message"] ?? "")")
        }
        return answer["value"]
    }

    func call(_ method: String, _ path: String, _ body: Any? = nil) throws -> Any? {
        try Self.call(workspace, method, "\(base)/session/\(session)\(path)", body)
    }

    func open(_ url: String) throws { _ = try call("POST", "/url", ["url": url]) }

    /// The first element matching `css`, or nil.
    func find(_ css: String) throws -> String? {
        let found = try call("POST", "/elements", ["using": "css selector", "value": css]) as? [[String: Any]]
        return found?.first?[Self.elementKey] as? String
    }

    /// Waits up to `timeout` seconds (a liveness bound) for `css` to match, looking every `every` seconds.
    func wait(for css: String, timeout: Double = 30, every: Double = 0.1) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let element = try find(css) { return element }
            guard Date() < deadline else { throw UsageError(message: "nothing matched \(css) within \(Int(timeout)) s") }
            usleep(useconds_t(every * 1e6))
        }
    }

    func click(_ element: String) throws { _ = try call("POST", "/element/\(element)/click", [String: Any]()) }
    func type(_ element: String, _ text: String) throws { _ = try call("POST", "/element/\(element)/value", ["text": text]) }
    func text(_ element: String) throws -> String { try call("GET", "/element/\(element)/text") as? String ?? "" }
    func script(_ source: String) throws -> Any? { try call("POST", "/execute/sync", ["script": source, "args": [Any]()]) }

    /// Presses and releases each key in turn, as the keyboard does, on whatever has focus.
    func press(_ keys: String...) throws {
        let strokes = keys.flatMap { [["type": "keyDown", "value": $0], ["type": "keyUp", "value": $0]] }
        _ = try call("POST", "/actions", ["actions": [["type": "key", "id": "keyboard", "actions": strokes]]])
    }

    static let tab = "\u{E004}", enter = "\u{E007}", escape = "\u{E00C}"

    func screenshot(to path: String) throws {
        guard let encoded = try call("GET", "/screenshot") as? String, let png = Data(base64Encoded: encoded) else {
            throw UsageError(message: "no screenshot")
        }
        try png.write(to: URL(fileURLWithPath: path))
    }
}

/// The gallery in a real browser (Debian's headless Chromium through chromedriver): alice's
/// page open, bob posts from the CLI and the feed shows it without a reload; alice opens it
/// from the keyboard and sees the image at its own pixel size, signed by bob; she posts two
/// files through the file input, as one batch, and bob's tail sees both; the page fits 400 px;
/// a tampered blob shows the failure and no image.
/// Screenshots go to docs/screenshots when SEALDROP_SCREENSHOTS is set.
@Suite struct BrowserTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The width and height a PNG's header gives.
    static func pngSize(_ path: String) throws -> (Int, Int) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        func word(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (word(16), word(20))
    }

    @Test(.timeLimit(.minutes(5))) func aliceWatchesOpensAndPostsInABrowser() throws {
        let workspace = try Workspace()
        defer { workspace.cleanup() }
        let daemon = try workspace.watchedRootWithRegistered(["alice", "bob"])
        defer { daemon.stop() }
        let (gallery, url) = try workspace.startGallery(home: "alice")
        defer { gallery.stop() }

        // chromedriver on a random free port (a few tries); Chromium headless, as root without its sandbox.
        var driverProcess: Background?
        var base = ""
        for attempt in 0..<5 {
            let port = 20000 + Int.random(in: 0..<20000) + attempt
            let candidate = try Background(command: ["/usr/bin/chromedriver", "--port=\(port)"], directory: workspace.url,
                                           environment: ProcessInfo.processInfo.environment)
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, !candidate.lines.contains(where: { $0.contains("started successfully") || $0.contains("bind") }) {
                usleep(50_000)
            }
            if candidate.lines.contains(where: { $0.contains("started successfully") }) {
                driverProcess = candidate
                base = "http://127.0.0.1:\(port)"
                break
            }
            candidate.kill()
        }
        let driver = try #require(driverProcess, "chromedriver did not start")
        // Its SIGTERM is blocked as the test process's is: it is killed, after the session closes the browser.
        defer { driver.kill() }
        let profile = workspace.path("chromium")
        let created = try WebDriver.call(workspace, "POST", base + "/session", ["capabilities": ["alwaysMatch": [
            "browserName": "chrome",
            "goog:chromeOptions": ["binary": "/usr/bin/chromium", "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,1000",
                "--user-data-dir=\(profile)",
            ]],
        ]]]) as? [String: Any]
        let session = try #require(created?["sessionId"] as? String)
        let browser = WebDriver(workspace: workspace, base: base, session: session)
        defer { _ = try? WebDriver.call(workspace, "DELETE", "\(base)/session/\(session)") }

        try browser.open(url)
        _ = try browser.wait(for: "#status")
        let shots = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-screenshots").path
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)

        // bob posts from the CLI; the page, not reloaded, lists it.
        let images = Self.repository.appendingPathComponent("fixtures/images")
        for image in ["camera.png", "coffee.gif", "chelsea.webp"] {
            try FileManager.default.copyItem(atPath: images.appendingPathComponent(image).path, toPath: workspace.path(image))
        }
        #expect(try browser.script("window.sealdropMark = 1; return 1") as? Int == 1)
        #expect(try workspace.sealdrop(["post", "camera.png", "--no-wait"], home: "bob").status == 0)
        let item = try browser.wait(for: "#feed .item[data-name='camera.png']", every: 0.02)
        let shown = Date()
        // From the server's notification (its time, to the millisecond, on this machine's
        // clock) to the page: printed, not asserted (a figure, not a test of speed).
        let notification = try workspace.read("root/notifications.jsonl").split(separator: "\n").first { $0.contains("\"camera.png\"") }
        let fields = try JSONSerialization.jsonObject(with: Data(try #require(notification).utf8)) as? [String: Any]
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let time = try #require(fields?["time"] as? String)
        let announced = try #require(formatter.date(from: time))
        print("browser: bob's image listed on alice's page \(Int(shown.timeIntervalSince(announced) * 1000)) ms after its notification")
        #expect(try browser.script("return window.sealdropMark") as? Int == 1, "the page was reloaded")
        #expect(try browser.text(item).contains("bob"))
        #expect(try browser.text(try browser.wait(for: "#badge:not([hidden])")) == "1 new")
        try browser.screenshot(to: shots + "/gallery-feed.png")

        // alice opens it with the keyboard: Tab reaches the item, its focus is visible, Enter
        // opens it; decoded at the original's pixel size, signed by bob.
        let onItem = "const a = document.activeElement; return a && a.classList.contains('item') && a.dataset.name === 'camera.png'"
        var tabs = 0
        while try browser.script(onItem) as? Bool != true, tabs < 40 {
            try browser.press(WebDriver.tab)
            tabs += 1
        }
        #expect(try browser.script(onItem) as? Bool == true, "Tab never reached the item")
        #expect(try browser.script("return getComputedStyle(document.activeElement).outlineStyle") as? String == "solid")
        try browser.press(WebDriver.enter)
        _ = try browser.wait(for: "#viewer.verified")
        let verdict = try browser.text(try #require(try browser.find("#verdict")))
        #expect(verdict.contains("Signed by CN=bob"), "\(verdict)")
        _ = try browser.wait(for: "#picture:not([hidden])")
        let deadline = Date().addingTimeInterval(20)
        var size: [Int] = []
        while Date() < deadline {
            size = try browser.script("const p = document.getElementById('picture'); return p.complete ? [p.naturalWidth, p.naturalHeight] : []")
                as? [Int] ?? []
            if !size.isEmpty && size != [0, 0] { break }
            usleep(100_000)
        }
        let (width, height) = try Self.pngSize(workspace.path("camera.png"))
        #expect(size == [width, height], "decoded \(size), the original is \(width)x\(height)")
        try browser.screenshot(to: shots + "/gallery-opened.png")
        #expect(try browser.script("return document.getElementById('picture').alt") as? String == "camera.png")
        // Escape closes the viewer and puts the keyboard back on the item.
        try browser.press(WebDriver.escape)
        #expect(try browser.script("return document.getElementById('viewer').hidden") as? Bool == true)
        #expect(try browser.script(onItem) as? Bool == true, "focus did not come back to the item")

        // alice posts two files through the file input; bob's tail sees both.
        try browser.type(try #require(try browser.find("#files")), workspace.path("coffee.gif") + "\n" + workspace.path("chelsea.webp"))
        let uploads = Date().addingTimeInterval(60)
        var accepted = 0
        while Date() < uploads {
            accepted = try browser.script("return document.querySelectorAll('#uploads li.accepted').length") as? Int ?? 0
            if accepted == 2 { break }
            usleep(200_000)
        }
        #expect(accepted == 2)
        let tail = try workspace.sealdrop(["tail"], home: "bob")
        #expect(tail.stdout.contains("alice posted coffee.gif") && tail.stdout.contains("alice posted chelsea.webp"), "\(tail.stdout)")
        // The two went as one batch: one batch key, one signature over their Merkle root.
        let alices = try workspace.storedBlobs().map { try workspace.sealdrop(["inspect", $0, "--json"]).stdout }
            .filter { $0.contains("\"sender\":\"alice\"") }
        #expect(alices.count == 2 && alices.allSatisfy { $0.contains("\"key_mode\":\"batch\"") && $0.contains("Merkle root") }, "\(alices)")

        // At 400 px the page still fits: nothing wider than the window.
        _ = try browser.call("POST", "/window/rect", ["width": 400, "height": 900])
        let overflow = try browser.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth") as? Int
        #expect(overflow == 0, "the page is \(overflow ?? -1) px wider than a 400 px window")
        _ = try browser.call("POST", "/window/rect", ["width": 1000, "height": 1000])

        // A tampered blob on the server: the red state, and no image.
        for blob in try workspace.storedBlobs() {
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: blob)))
            bytes[bytes.count - 40] ^= 0x01
            try Data(bytes).write(to: URL(fileURLWithPath: blob))
        }
        try browser.click(try browser.wait(for: "#feed .item[data-name='camera.png']"))
        _ = try browser.wait(for: "#viewer.failed")
        #expect(try browser.text(try #require(try browser.find("#verdict"))).contains("Not verified"))
        let hidden = "const p = document.getElementById('picture'); return getComputedStyle(p).display === 'none' && !p.getAttribute('src')"
        #expect(try browser.script(hidden) as? Bool == true)
        // Nor its thumbnail: what failed is no longer kept.
        let thumbnails = "return document.querySelectorAll(\"#feed .item[data-name='camera.png'] img\").length"
        let noThumbnail = Date().addingTimeInterval(10)
        while Date() < noThumbnail, try browser.script(thumbnails) as? Int != 0 { usleep(100_000) }
        #expect(try browser.script(thumbnails) as? Int == 0)
        try browser.screenshot(to: shots + "/gallery-failed.png")

        if ProcessInfo.processInfo.environment["SEALDROP_SCREENSHOTS"] != nil {
            let docs = Self.repository.appendingPathComponent("docs/screenshots").path
            try FileManager.default.createDirectory(atPath: docs, withIntermediateDirectories: true)
            for shot in ["gallery-feed.png", "gallery-opened.png", "gallery-failed.png"] {
                try? FileManager.default.removeItem(atPath: docs + "/" + shot)
                try FileManager.default.copyItem(atPath: shots + "/" + shot, toPath: docs + "/" + shot)
            }
        }
    }
}
