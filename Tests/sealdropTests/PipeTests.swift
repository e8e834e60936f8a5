import Foundation
import Testing

/// `-` for standard input and output, armour, and passphrases from descriptors, run through
/// bash pipes as a user types them.
@Suite(.serialized) struct PipeTests {
    /// A server root, alice with a certificate, and camera.png in a fresh workspace.
    func world() throws -> Workspace {
        let w = try Workspace()
        try w.sealdrop(["server", "init", "root", "--bits", "2048"])
        try w.sealdrop(["keygen", "--out", "alice", "--bits", "2048"])
        try w.sealdrop(["request", "--key", "alice.key", "--user", "alice", "-o", "alice.csr"])
        try w.sealdrop(["server", "issue", "root", "alice.csr", "-o", "alice.crt"])
        try FileManager.default.copyItem(atPath: SealOpenTests.images + "/camera.png", toPath: w.path("image.png"))
        return w
    }

    static let seal = #""$SEALDROP" seal - --to root/encryption.crt --key alice.key -o -"#
    static let open = #""$SEALDROP" open - --key root/encryption.key --ca root/ca.crt -o -"#

    @Test(arguments: ["", " --armor"], ["cbc-hmac", "gcm"])
    func sealOpenPipeline(armor: String, suite: String) throws {
        let w = try world()
        defer { w.cleanup() }
        let run = try w.shell("cat image.png | \(Self.seal)\(armor) --suite \(suite) | \(Self.open) | cmp - image.png")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.isEmpty, "the data went to cmp, nothing else to standard output")
        #expect(w.listing().sorted() == ["alice.crt", "alice.csr", "alice.key", "alice.pub", "image.png"]
            + w.listing().filter { $0.hasPrefix("root") }, "nothing written beside the inputs")
    }

    @Test func armouredEnvelopeFilesOpenAndInspectLikeBinaryOnes() throws {
        let w = try world()
        defer { w.cleanup() }
        let sealed = try w.sealdrop(["seal", "image.png", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "out", "--armor"])
        #expect(sealed.status == 0, "\(sealed.stderr)")
        let text = try w.read("out/image.png.seal")
        #expect(text.hasPrefix("-----BEGIN SEALDROP ENVELOPE-----\n"))
        #expect(text.hasSuffix("\n-----END SEALDROP ENVELOPE-----\n"))
        let open = try w.sealdrop(["open", "out", "--key", "root/encryption.key", "--ca", "root/ca.crt", "-o", "opened"])
        #expect(open.status == 0, "\(open.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: w.path("image.png"), andPath: w.path("opened/image.png")))
        let inspect = try w.shell(#"cat out/image.png.seal | "$SEALDROP" inspect - --json"#)
        let fields = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(fields?["name"] as? String == "image.png")
        #expect(fields?["sender"] as? String == "alice")
    }

    @Test func standardInputIsNamedByItsTypeOrByName() throws {
        let w = try world()
        defer { w.cleanup() }
        let plain = try w.shell(#"cat image.png | "$SEALDROP" seal - --to root/encryption.crt --key alice.key -o out"#)
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(w.exists("out/stdin.png.seal"))
        let named = try w.shell(#"cat image.png | "$SEALDROP" seal - --name "the cat.png" --to root/encryption.crt --key alice.key -o out"#)
        #expect(named.status == 0, "\(named.stderr)")
        let open = try w.shell(#""$SEALDROP" open - --key root/encryption.key --ca root/ca.crt -o opened < "out/the cat.png.seal""#)
        #expect(open.status == 0, "\(open.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: w.path("image.png"), andPath: w.path("opened/the cat.png")))
        let notImage = try w.shell(#"echo hello | "$SEALDROP" seal - --to root/encryption.crt --key alice.key -o out"#)
        #expect(notImage.status == 1)
        #expect(notImage.stderr.contains("standard input: not a recognised image"))
    }

    @Test func aTamperedStreamReleasesNothing() throws {
        let w = try world()
        defer { w.cleanup() }
        for armor in ["", " --armor"] {
            try w.shell("cat image.png | \(Self.seal)\(armor) > sealed")
            var bytes = try Data(contentsOf: URL(fileURLWithPath: w.path("sealed")))
            // A byte well inside the last chunk: the signature covers it, so verification fails
            // before any plaintext is written.
            var index = bytes.count - 700
            if armor.isEmpty {
                bytes[index] ^= 1
            } else {
                while !(UInt8(ascii: "C")...UInt8(ascii: "Z")).contains(bytes[index]) { index += 1 }
                bytes[index] -= 1  // another base64 letter
            }
            try bytes.write(to: URL(fileURLWithPath: w.path("sealed")))
            let run = try w.shell("\(Self.open) < sealed | wc -c")
            #expect(run.status != 0)
            #expect(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "no plaintext released\(armor)")
            #expect(run.stderr.contains("standard input: envelope is corrupted or was tampered with"), "\(run.stderr)")
        }
    }

    @Test func passphrasesFromDescriptorsPipesAndCRLFFiles() throws {
        let w = try world()
        defer { w.cleanup() }
        let base = #""$SEALDROP" seal image.png --to root/encryption.crt --key alice.key --force -o out"#
        try w.write("test passphrase\r\n", to: "crlf.pass")
        for (how, script) in [
            ("--passphrase-fd", base + " --passphrase-fd 3 3< crlf.pass"),
            ("/dev/stdin", base + " --passphrase-file /dev/stdin < crlf.pass"),
            ("process substitution", base + " --passphrase-file <(echo 'test passphrase')"),
            ("a CRLF file", base + " --passphrase-file crlf.pass"),
        ] {
            let run = try w.shell(script, passphrase: nil)
            #expect(run.status == 0, "\(how): \(run.stderr)")
        }
        let wrong = try w.shell(base + " --passphrase-fd 3 3< <(echo nope)", passphrase: nil)
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("alice.key"), "\(wrong.stderr)")
        let closed = try w.shell(base + " --passphrase-fd 7", passphrase: nil)
        #expect(closed.status == 64 || closed.status == 1)
        #expect(closed.stderr.contains("descriptor 7"), "\(closed.stderr)")
        let both = try w.shell("cat image.png | " + #""$SEALDROP" seal - --to root/encryption.crt --key alice.key -o - --passphrase-file /dev/stdin"#, passphrase: nil)
        #expect(both.status == 64)
        #expect(both.stderr.contains("standard input holds the image"))
    }

    @Test func dashIsOneStreamOnly() throws {
        let w = try world()
        defer { w.cleanup() }
        let two = try w.sealdrop(["seal", "-", "image.png", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "out"])
        #expect(two.status == 64)
        #expect(two.stderr.contains("- (standard input) must be the only input"))
        let toStdout = try w.sealdrop(["seal", "image.png", "image.png", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "-"])
        #expect(toStdout.status == 64)
        #expect(toStdout.stderr.contains("give exactly one input"))
        #expect(!w.exists("-"), "-o - is standard output, never a folder named -")
    }

    @Test func fetchWritesOneImageToStandardOutput() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (daemon, _) = try w.startServer(.directory, registering: ["alice", "bob"])
        defer { daemon.stop() }
        try FileManager.default.copyItem(atPath: SealOpenTests.images + "/coffee.gif", toPath: w.path("coffee.gif"))
        let post = try w.sealdrop(["post", "coffee.gif"], home: "alice")
        #expect(post.status == 0, "\(post.stderr)")
        let fetch = try w.shell(#"SEALDROP_HOME=bob "$SEALDROP" fetch coffee.gif -o - | cmp - coffee.gif"#)
        #expect(fetch.status == 0, "\(fetch.stderr)")
        #expect(fetch.stderr.contains("\"coffee.gif\" posted by alice"), "said on standard error: \(fetch.stderr)")
        #expect(!w.exists("-"), "never a file named -")
        let two = try w.sealdrop(["fetch", "coffee.gif", "other.gif", "-o", "-"], home: "bob")
        #expect(two.status == 64 && two.stderr.contains("name exactly one"))
    }
}
