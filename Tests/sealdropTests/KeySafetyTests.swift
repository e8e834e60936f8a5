import Foundation
import Testing

/// No command overwrites a private key, and register resumes what it started.
@Suite(.serialized) struct KeySafetyTests {
    func hash(_ w: Workspace, _ file: String) throws -> String {
        try w.openssl(["dgst", "-sha256", file]).stdout
    }

    /// register interrupted and run again three times keeps one key, unchanged, and gets
    /// the certificate for it once the server answers.
    @Test func registerResumesWithTheKeyItMade() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.sealdrop(["server", "init", "root", "--bits", "2048"])
        let fp = try w.caFingerprint()
        let register = ["register", "--server", "root", "--user", "alice", "--expect-fingerprint", fp, "--bits", "2048",
                        "--home", w.path("alice")]
        // Nobody ingests yet: the first run times out, the second is interrupted (Ctrl-C).
        let first = try w.sealdrop(register + ["--timeout", "1"])
        #expect(first.status == 1 && first.stderr.contains("run register again to keep waiting: it keeps your key"), "\(first.stderr)")
        let key = try hash(w, "alice/alice.key")
        let background = try w.start(register + ["--timeout", "30"])
        _ = background.waitForLines(1)
        background.interrupt()
        #expect(try hash(w, "alice/alice.key") == key)
        let third = try w.sealdrop(register + ["--timeout", "1"])
        #expect(third.status == 1)
        #expect(third.stdout.contains("resuming the registration of \"alice\" with the key in"), "\(third.stdout)")
        #expect(try hash(w, "alice/alice.key") == key)
        // Another name in the same folder is refused, naming the unfinished one.
        let other = try w.sealdrop(["register", "--server", "root", "--user", "bob", "--home", w.path("alice"), "--timeout", "1"])
        #expect(other.status == 1 && other.stderr.contains("holds an unfinished registration of \"alice\""), "\(other.stderr)")

        let watch = try w.start(["server", "watch", "root", "--rescan", "1"])
        defer { watch.stop() }
        let last = try w.sealdrop(register + ["--timeout", "30"])
        #expect(last.status == 0, "\(last.stderr)")
        #expect(try hash(w, "alice/alice.key") == key, "the key is the one made first")
        #expect(try w.read("alice/alice.key").hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))
        let keyFiles = try FileManager.default.contentsOfDirectory(atPath: w.path("alice")).filter { $0.hasSuffix(".key") }
        #expect(keyFiles == ["alice.key"])
        let pub = try w.openssl(["pkey", "-in", "alice/alice.key", "-passin", "pass:test passphrase", "-pubout"]).stdout
        #expect(pub == (try w.openssl(["x509", "-in", "alice/alice.crt", "-noout", "-pubkey"])).stdout)
        // Registered: a further register says so and changes nothing.
        let again = try w.sealdrop(register)
        #expect(again.status == 1 && again.stderr.contains("already holds a registered profile"))
        #expect(try hash(w, "alice/alice.key") == key)
        // The profile works from --home as well as from SEALDROP_HOME.
        #expect(try w.sealdrop(["post", ServerFlowTests.images + "/coffee.gif", "--home", w.path("alice")]).status == 0)
    }

    /// keygen never replaces a key, and says so.
    @Test func keygenNeverOverwritesAKey() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.sealdrop(["keygen", "--out", "k", "--bits", "2048"])
        let key = try hash(w, "k.key")
        let again = try w.sealdrop(["keygen", "--out", "k", "--bits", "2048"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("k.key already exists, and sealdrop never overwrites a key"), "\(again.stderr)")
        #expect(try hash(w, "k.key") == key)
        #expect(try w.sealdrop(["keygen", "--out", "k", "--force"]).status == 64, "there is no --force to replace a key")
    }
}
