import Foundation
import Testing

/// The reproductions of the hardening issue, run as a user or an operator would: each command
/// ends with one error line and exit status 1 (or quarantines and goes on), never a signal.
@Suite(.serialized) struct HostileInputCLITests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures").path

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func write(_ bytes: [UInt8], to path: String) throws { try Data(bytes).write(to: URL(fileURLWithPath: path)) }

    /// An envelope whose payload_length is 2^64-1 killed `inspect` with SIGILL.
    @Test func inspectRefusesAHugePayloadLength() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        var envelope = try bytes(Self.fixtures + "/envelopes/cbc-small.seal")
        let offset = envelope.count - 256 - 2 - 1 - 8
        envelope.replaceSubrange(offset..<offset + 8, with: [UInt8](repeating: 0xFF, count: 8))
        try write(envelope, to: w.path("huge.seal"))
        let run = try w.sealdrop(["inspect", "huge.seal"])
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.hasPrefix("sealdrop: error: huge.seal: ") && run.stderr.contains("payload length"))
    }

    /// The sender certificate's version INTEGER 0x7FFFFFFFFFFFFFFF killed inspect, open and
    /// ingest before any sender check.
    @Test func aHugeCertificateVersionIsOneError() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let envelope = try bytes(Self.fixtures + "/envelopes/cbc-small.seal")
        let version: [UInt8] = [0xA0, 0x03, 0x02, 0x01, 0x02]
        let at = try #require((0..<envelope.count - 5).first { Array(envelope[$0..<$0 + 5]) == version })
        let certificate = at - 8
        var forged = Array(envelope[..<at]) + [0xA0, 0x0A, 0x02, 0x08, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]
            + Array(envelope[(at + 5)...])
        func add(_ value: Int, at offset: Int, width: Int) {
            var n = 0
            for i in 0..<width { n = n << 8 | Int(forged[offset + i]) }
            n += value
            for i in 0..<width { forged[offset + i] = UInt8(truncatingIfNeeded: n >> (8 * (width - 1 - i))) }
        }
        add(7, at: certificate + 2, width: 2)   // Certificate SEQUENCE
        add(7, at: certificate + 6, width: 2)   // TBSCertificate SEQUENCE
        add(7, at: certificate - 2, width: 2)   // cert_length
        add(7, at: 12, width: 4)                // header_length
        try write(forged, to: w.path("version.seal"))
        for command in [["inspect", "version.seal"], ["open", "version.seal", "--key", Self.fixtures + "/envelopes/keys/bob.key",
                                                       "--ca", Self.fixtures + "/envelopes/keys/ca.crt", "-o", "out"]] {
            let run = try w.sealdrop(command, passphrase: "sealdrop test vectors")
            #expect(run.status == 1, "\(command): \(run.stderr)")
            #expect(run.stderr.contains("sealdrop: error:") && run.stderr.contains("version"), "\(run.stderr)")
        }
    }

    /// `server ingest --once` on one of each hostile drop and 50 good envelopes: exit 3, the
    /// 50 ingested, every hostile drop quarantined with a reason, fsck clean.
    @Test func ingestOnceQuarantinesHostileDropsAndIngestsTheRest() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice"])
        try FileManager.default.createDirectory(atPath: w.path("photos"), withIntermediateDirectories: true)
        for index in 0..<50 {
            try FileManager.default.copyItem(atPath: Self.fixtures + "/images/coffee.gif", toPath: w.path("photos/c\(index).gif"))
        }
        let sealed = try w.sealdrop(["seal", "photos", "--to", "root/encryption.crt", "--key", "alice.key", "--cert", "alice.crt",
                                     "-o", "root/inbox/tmp"])
        #expect(sealed.status == 0, "\(sealed.stderr)")
        for file in try FileManager.default.contentsOfDirectory(atPath: w.path("root/inbox/tmp")) {
            #expect(rename(w.path("root/inbox/tmp/\(file)"), w.path("root/inbox/new/\(file)")) == 0)
        }
        let new = w.path("root/inbox/new")
        try write(Array("junk".utf8), to: "\(new)/" + String(repeating: "n", count: 230))
        try write(Array("newline".utf8), to: "\(new)/forged\n2026-01-01 info accepted")
        try FileManager.default.createDirectory(atPath: "\(new)/a-directory/inside", withIntermediateDirectories: true)
        mkfifo("\(new)/fifo", 0o644)
        symlink(w.path("root/ca.key"), "\(new)/symlink")
        try write([], to: "\(new)/empty")
        let badName: [UInt8] = Array(new.utf8) + [UInt8(ascii: "/"), 0xC3, 0x28, 0xFF]
        let fd = (badName + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_WRONLY | O_CREAT, 0o644) } }
        #expect(fd >= 0)
        close(fd)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: w.path("root/notifications.jsonl")))
        log.seekToEndOfFile()
        log.write(Data("{\"seq\":999999,\"garb\n".utf8))
        try log.close()

        let run = try w.sealdrop(["server", "ingest", "root", "--once"])
        #expect(run.status == 3, "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: new).isEmpty)
        let status = try w.sealdrop(["server", "status", "root", "--json"])
        let fields = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(fields["images"] as? Int == 50)
        #expect(fields["quarantined"] as? Int == 7)
        #expect(try w.sealdrop(["server", "fsck", "root"]).status == 0)
        // No log line was forged by a name.
        #expect(!run.stderr.split(separator: "\n").contains { $0.hasPrefix("2026-01-01") })
        #expect(run.stderr.contains("forged\\u{a}2026-01-01"))
    }

    /// A forged line in notifications.jsonl (a negative size killed list and tail; terminal
    /// escapes were printed as "alice posted") is one error, and nothing is printed.
    @Test func tailAndListRefuseAForgedLog() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let watch = try w.watchedRootWithRegistered(["alice"])
        defer { watch.stop() }
        #expect(try w.sealdrop(["post", Self.fixtures + "/images/coffee.gif"], home: "alice").status == 0)
        let deadline = Date().addingTimeInterval(30)
        while !w.exists("root/notifications.head"), Date() < deadline { usleep(100_000) }
        watch.stop()
        let good = try w.read("root/notifications.jsonl")
        #expect(good.split(separator: "\n").count == 1)
        let prev = "\"prev\":\"" + String(repeating: "0", count: 64) + "\","
        for forged in [
            "{\"media_type\":\"image/gif\",\"name\":\"x.gif\",\"owner\":\"alice\",\(prev)\"seq\":2,\"size\":-5,\"time\":\"2026-11-29T03:05:48.392Z\",\"type\":\"image\"}\n",
            "{\"media_type\":\"image/gif\",\"name\":\"\\u001b[31mx.gif\",\"owner\":\"alice\",\(prev)\"seq\":2,\"size\":5,\"time\":\"2026-11-29T03:05:48.392Z\",\"type\":\"image\"}\n",
            "{\"media_type\":\"image/gif\",\"name\":\"x.gif\",\"owner\":\"alice\",\(prev)\"seq\":999999,\"size\":5,\"time\":\"2026-11-29T03:05:48.392Z\",\"type\":\"image\"}\n",
            "{\"media_type\":\"image/gif\",\"name\":\"x.gif\",\"owner\":\"alice\",\(prev)\"seq\":2,\"size\":5,\"time\":\"2026-11-29T03:05:48.11111111111111111111111111111111111111111111111111111111401Z\",\"type\":\"image\"}\n",
        ] {
            try w.write(good + forged, to: "root/notifications.jsonl")
            for command in [["tail"], ["list"], ["tail", "--all", "--json"]] {
                let run = try w.sealdrop(command, home: "alice")
                #expect(run.status == 1, "\(command) \(forged): \(run.stderr)")
                #expect(run.stdout.isEmpty, "\(command): \(run.stdout)")
                #expect(run.stderr.contains("line 2 is not a notification the server wrote"), "\(run.stderr)")
                #expect(!run.stderr.contains("\u{1b}"))
            }
        }
    }
}

/// A user certificate swapped into encryption.crt while someone registers made them seal to
/// that user; the server's roles are now checked and pinned.
@Suite(.serialized) struct RolePinningCLITests {
    @Test func registrationRefusesAUserCertificateAsTheServersRole() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["mallory"])
        for role in ["encryption", "delivery"] {
            let original = try w.read("root/\(role).crt")
            try w.write(try w.read("mallory.crt"), to: "root/\(role).crt")
            let run = try w.sealdrop(["register", "--server", "root", "--user", "bob", "--bits", "2048"], home: "bob")
            #expect(run.status == 1, "\(role): \(run.stderr)")
            #expect(run.stderr.contains("not a \(role) certificate") || run.stderr.contains("not the server's \(role) certificate"), "\(run.stderr)")
            #expect(!w.exists("bob/profile.json"))
            try w.write(original, to: "root/\(role).crt")
        }
    }
}

/// `server init` under umask 000 left every directory 0777 without the sticky bit.
@Suite struct UmaskCLITests {
    @Test func initUnderUmask000LeavesNoWorldWritableDirectoryWithoutTheStickyBit() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        var environment = ProcessInfo.processInfo.environment
        environment["SEALDROP_PASSPHRASE"] = "test passphrase"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "umask 000 && exec \"$0\" server init root --bits 2048", sealdropBinary]
        process.currentDirectoryURL = w.url
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        var checked = 0
        for entry in [""] + w.listing() {
            var info = stat()
            let path = w.path(entry)
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR, entry.hasPrefix("root") {
                checked += 1
                #expect(info.st_mode & 0o002 == 0 || info.st_mode & 0o1000 != 0, "\(entry) is world-writable without the sticky bit")
            }
            if entry.hasPrefix("root") { #expect(info.st_mode & 0o002 == 0 || info.st_mode & 0o1000 != 0, "\(entry)") }
            if entry.hasSuffix(".key") || entry.hasSuffix(".sqlite") { #expect(info.st_mode & 0o077 == 0, "\(entry)") }
        }
        #expect(checked >= 8)
        #expect(try w.sealdrop(["server", "fsck", "root"]).status == 0)
    }
}
