import Foundation
import Testing

/// `profile import`: a key and certificate made by hand (keygen or openssl, then server
/// issue) become a working profile, over both transports.
@Suite(.serialized) struct ProfileImportTests {
    @Test(arguments: Transport.allCases)
    func anIssuedKeyBecomesAProfileThatPostsAndFetches(transport: Transport) throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let (daemon, server) = try w.startServer(transport, registering: ["bob"])
        defer { daemon.stop() }
        // alice's key made by openssl, her certificate issued by the administrator.
        let key = try w.openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-aes-256-cbc",
                                 "-pass", "pass:test passphrase", "-out", "alice.key"])
        #expect(key.status == 0, "\(key.stderr)")
        try w.sealdrop(["request", "--key", "alice.key", "--user", "alice", "-o", "alice.csr"])
        try w.sealdrop(["server", "issue", "root", "alice.csr", "-o", "alice.crt"])
        let given = try Data(contentsOf: URL(fileURLWithPath: w.path("alice.key")))
        let fingerprint = try w.caFingerprint()
        let run = try w.sealdrop(["profile", "import", "--key", "alice.key", "--cert", "alice.crt", "--server", server,
                                  "--expect-fingerprint", fingerprint, "--home", w.path("alice")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("imported \"alice\""))
        #expect(try Data(contentsOf: URL(fileURLWithPath: w.path("alice.key"))) == given, "the file given is left as it was")
        #expect(try w.read("alice/alice.key").hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))

        try FileManager.default.copyItem(atPath: SealOpenTests.images + "/coffee.gif", toPath: w.path("coffee.gif"))
        let post = try w.sealdrop(["post", "coffee.gif"], home: "alice")
        #expect(post.status == 0 && post.stdout.contains("accepted coffee.gif"), "\(post.stdout)\(post.stderr)")
        let fetch = try w.sealdrop(["fetch", "coffee.gif", "-o", "got.gif"], home: "bob")
        #expect(fetch.status == 0, "\(fetch.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: w.path("coffee.gif"), andPath: w.path("got.gif")))

        // Once is enough: the profile is not replaced.
        let again = try w.sealdrop(["profile", "import", "--key", "alice.key", "--cert", "alice.crt", "--server", server,
                                    "--expect-fingerprint", fingerprint, "--home", w.path("alice")])
        #expect(again.status == 1 && again.stderr.contains("already holds a registered profile"), "\(again.stderr)")
    }

    @Test func aCertificateForAnotherKeyOrServerIsRefusedAndNothingIsWritten() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice", "bob"])
        let fingerprint = try w.caFingerprint()
        let wrongKey = try w.sealdrop(["profile", "import", "--key", "bob.key", "--cert", "alice.crt", "--server", "root",
                                       "--expect-fingerprint", fingerprint, "--home", w.path("p1")])
        #expect(wrongKey.status == 1 && wrongKey.stderr.contains("alice.crt: certificate rejected: it is for another key"),
                "\(wrongKey.stderr)")
        #expect(!w.exists("p1/profile.json") && !w.exists("p1/alice.key"))
        try w.sealdrop(["server", "init", "other", "--bits", "2048"])
        let otherServer = try w.sealdrop(["profile", "import", "--key", "alice.key", "--cert", "alice.crt", "--server", "other",
                                          "--home", w.path("p2")])
        #expect(otherServer.status == 1 && otherServer.stderr.contains("alice.crt: certificate rejected"), "\(otherServer.stderr)")
        #expect(!w.exists("p2/profile.json"))
    }
}
