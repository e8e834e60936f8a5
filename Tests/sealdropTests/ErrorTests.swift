import Foundation
import Testing

/// Bad input gets one clear line naming the file, a hint, exit 1, and nothing half-written.
@Suite(.serialized) struct ErrorTests {
    func expectFailure(_ run: Run, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 1, "exit \(run.status)", sourceLocation: sourceLocation)
        #expect(run.stderr.hasPrefix("sealdrop: error: "), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.contains(fragment), "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.contains("\nhint: "), "\(run.stderr)", sourceLocation: sourceLocation)
    }

    /// `sealdrop` alone is a usage error: the help on standard error, exit 64; --help is not.
    @Test func noCommandIsAUsageError() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let bare = try w.sealdrop([])
        #expect(bare.status == 64)
        #expect(bare.stdout.isEmpty && bare.stderr.contains("USAGE: sealdrop <subcommand>"), "\(bare.stderr)")
        let help = try w.sealdrop(["--help"])
        #expect(help.status == 0 && help.stdout.contains("SUBCOMMANDS:"))
    }

    @Test func keyErrors() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.sealdrop(["keygen", "--out", "k", "--bits", "2048"])
        let before = w.listing()

        expectFailure(try w.sealdrop(["request", "--key", "k.key", "--user", "eve", "-o", "e.csr"], passphrase: "nope"),
                      "k.key: wrong passphrase")
        expectFailure(try w.sealdrop(["request", "--key", "missing.key", "--user", "eve", "-o", "e.csr"]), "missing.key: no such file")
        try w.write("just some text\n", to: "notpem.key")
        expectFailure(try w.sealdrop(["request", "--key", "notpem.key", "--user", "eve", "-o", "e.csr"]), "notpem.key: not a PEM file")
        expectFailure(try w.sealdrop(["request", "--key", "k.pub", "--user", "eve", "-o", "e.csr"]), "k.pub: PEM block is PUBLIC KEY")
        expectFailure(try w.sealdrop(["request", "--key", "k.key", "--user", "Eve!", "-o", "e.csr"]), "invalid name")
        expectFailure(try w.sealdrop(["keygen", "--out", "k", "--bits", "2048"]), "k.key already exists")
        #expect(w.listing() == (before + ["notpem.key"]).sorted(), "a failed command left files behind")
        #expect(!w.exists("e.csr"))

        // A small key made by openssl is refused with the reason.
        #expect(try w.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-aes-256-cbc",
                               "-pass", "pass:test passphrase", "-out", "small.key"]).status == 0)
        expectFailure(try w.sealdrop(["request", "--key", "small.key", "--user", "eve", "-o", "e.csr"]), "too small")
        // Unencrypted keys are refused, with how to encrypt them.
        #expect(try w.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "plain.key"]).status == 0)
        let plain = try w.sealdrop(["request", "--key", "plain.key", "--user", "eve", "-o", "e.csr"])
        expectFailure(plain, "not encrypted")
        #expect(plain.stderr.contains("openssl pkcs8 -topk8 -scrypt"))
        #expect(!w.exists("e.csr"))

        let bits = try w.sealdrop(["keygen", "--out", "tiny", "--bits", "1024"])
        #expect(bits.status != 0)
        #expect(bits.stderr.contains("2048, 3072 or 4096"))
        #expect(!w.exists("tiny.key"))
    }

    @Test func passphraseSources() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.write("from a file\nsecond line ignored\n", to: "pass.txt")
        let keygen = try w.sealdrop(["keygen", "--out", "f", "--bits", "2048", "--passphrase-file", "pass.txt"], passphrase: nil)
        #expect(keygen.status == 0, "\(keygen.stderr)")
        #expect(try w.openssl(["pkey", "-in", "f.key", "-passin", "pass:from a file", "-noout"]).status == 0)
        // The file wins over the environment.
        let request = try w.sealdrop(["request", "--key", "f.key", "--user", "fay", "-o", "f.csr", "--passphrase-file", "pass.txt"],
                                     passphrase: "wrong")
        #expect(request.status == 0, "\(request.stderr)")
        // With neither and no terminal (cron), the error says what to set.
        let none = try w.sealdrop(["keygen", "--out", "g", "--bits", "2048"], passphrase: nil, detached: true)
        expectFailure(none, "no passphrase")
        #expect(none.stderr.contains("SEALDROP_PASSPHRASE"))
        expectFailure(try w.sealdrop(["keygen", "--out", "g", "--bits", "2048"], passphrase: ""), "passphrase is empty")
        #expect(!w.exists("g.key") && !w.exists("g.pub"))
    }

    @Test func requestErrors() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.sealdrop(["server", "init", "root", "--bits", "2048"])
        expectFailure(try w.sealdrop(["server", "init", "root", "--bits", "2048"]), "already a sealdrop server root")

        // A request whose name breaks the rules, made by openssl.
        #expect(try w.openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "x.key", "-out", "bad-name.csr",
                               "-subj", "/CN=Bad.Name"]).status == 0)
        expectFailure(try w.sealdrop(["server", "issue", "root", "bad-name.csr", "-o", "x.crt"]), "bad-name.csr: invalid name")

        // A request whose signature does not match (a byte of the signature flipped).
        try w.sealdrop(["keygen", "--out", "h", "--bits", "2048"])
        try w.sealdrop(["request", "--key", "h.key", "--user", "hal", "-o", "h.csr"])
        let pem = try w.read("h.csr")
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        var der = [UInt8](Data(base64Encoded: body)!)
        der[der.count - 10] ^= 0xFF
        try w.write("-----BEGIN CERTIFICATE REQUEST-----\n" + Data(der).base64EncodedString(options: .lineLength64Characters)
                    + "\n-----END CERTIFICATE REQUEST-----\n", to: "forged.csr")
        expectFailure(try w.sealdrop(["server", "issue", "root", "forged.csr", "-o", "x.crt"]), "forged.csr: bad signature")
        expectFailure(try w.sealdrop(["server", "issue", "root", "h.csr", "-o", "x.crt"], passphrase: "wrong"), "ca.key: wrong passphrase")
        expectFailure(try w.sealdrop(["server", "issue", "nowhere", "h.csr", "-o", "x.crt"]), "not a sealdrop server root")
        #expect(!w.exists("x.crt"))
        let users = try w.sealdrop(["server", "users", "root", "--json"])
        #expect(users.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "[]", "a refused request registered a user")
    }

    /// The wordings a user met: each error one line naming the real file and cause, then a hint.
    @Test func errorsSayTheRealCause() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice"])
        try FileManager.default.copyItem(atPath: SealOpenTests.images + "/camera.png", toPath: w.path("cat.png"))
        func seal(_ extra: [String], input: String = "cat.png", key: String = "alice.key", output: String = "out") throws -> Run {
            try w.sealdrop(["seal", input, "--to", "root/encryption.crt", "--key", key, "-o", output] + extra)
        }
        func expectOneError(_ run: Run, _ fragment: String, hint: String, sourceLocation: SourceLocation = #_sourceLocation) {
            expectFailure(run, fragment, sourceLocation: sourceLocation)
            #expect(run.stderr.contains("hint: \(hint)"), "\(run.stderr)", sourceLocation: sourceLocation)
            let lines = run.stderr.split(separator: "\n")
            #expect(lines.count == 2, "one error line and one hint: \(run.stderr)", sourceLocation: sourceLocation)
            #expect(!run.stderr.contains("NSCocoaErrorDomain") && !run.stderr.contains("Error Domain"), sourceLocation: sourceLocation)
        }

        try w.write("a file", to: "existingfile")
        expectOneError(try seal([], output: "existingfile"), "sealdrop: error: existingfile exists and is not a folder",
                       hint: "-o names the output folder")
        expectOneError(try seal([], input: "nope.png"), "sealdrop: error: nope.png: No such file or directory", hint: "check the path")
        #expect(!(try seal([], input: "nope.png")).stderr.contains("nope.png: nope.png"), "the path once")
        expectOneError(try seal([], key: "alice.pub"), "sealdrop: error: alice.pub: PEM block is PUBLIC KEY",
                       hint: "that file holds a public key; give the private key instead")
        expectOneError(try seal([], key: "nope.key"), "sealdrop: error: nope.key: no such file", hint: "check the path")
        #expect(!(try seal([], key: "nope.key")).stderr.contains(".crt"), "the key is named, not a certificate derived from it")
        try FileManager.default.copyItem(atPath: w.path("cat.png"), toPath: w.path("back\\slash.png"))
        expectOneError(try seal([], input: "back\\slash.png"), "\"back\\slash.png\" cannot be an image name: may not contain /, \\",
                       hint: "rename the file, or for a single image give another name with --name")
        #expect(!w.exists("out"), "failed batches leave no output folder")

        let badName = try seal(["--name", "a/b.png"])
        #expect(badName.status == 64)
        #expect(badName.stderr.contains("--name a/b.png: an image name may not contain /"), "\(badName.stderr)")
        let post = try w.sealdrop(["post", "cat.png", "--name", "a/b.png"], home: "alice")
        #expect(post.status == 64)
        #expect(post.stderr.contains("--name a/b.png: an image name may not contain /"), "\(post.stderr)")
        #expect(!post.stderr.contains("malformed envelope"))
    }

    /// openssl's traditional encrypted `RSA PRIVATE KEY` files work wherever a key is taken.
    @Test func traditionalOpensslKeysAreRead() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let folder = SealOpenTests.images + "/../keys/traditional"
        for cipher in ["aes256", "des3"] {
            try FileManager.default.copyItem(atPath: "\(folder)/\(cipher).key", toPath: w.path("\(cipher).key"))
            let run = try w.sealdrop(["request", "--key", "\(cipher).key", "--user", "old", "-o", "\(cipher).csr"],
                                     passphrase: "sealdrop test vectors")
            #expect(run.status == 0, "\(run.stderr)")
            let check = try w.openssl(["req", "-in", "\(cipher).csr", "-verify", "-noout"])
            #expect(check.status == 0, "\(check.stderr)")
        }
        try FileManager.default.copyItem(atPath: "\(folder)/clear.key", toPath: w.path("clear.key"))
        expectFailure(try w.sealdrop(["request", "--key", "clear.key", "--user", "old", "-o", "c.csr"]), "clear.key: private key is not encrypted")
    }
}
