import Foundation
import Testing

/// What people expect of a Unix tool: examples in every --help, -q and -v on every command.
@Suite(.serialized) struct HelpTests {
    static let commands = [
        "keygen", "request", "seal", "open", "inspect", "register", "post", "fetch", "list", "tail", "status", "bench",
        "cert show", "cert verify", "server init", "server tls-cert", "server issue", "server ingest", "server watch",
        "server serve", "server status", "server users", "server revoke", "server requeue", "server fsck", "profile import",
    ]

    @Test(arguments: commands)
    func everyHelpHasExamplesAndQuietAndVerbose(command: String) throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let run = try w.sealdrop(command.split(separator: " ").map(String.init) + ["--help"])
        #expect(run.status == 0)
        #expect(run.stdout.contains("Example"), "\(command) --help shows how it is used")
        #expect(run.stdout.contains("-q, --quiet") && run.stdout.contains("-v, --verbose"), "\(command)")
    }

    @Test func quietPrintsOnlyErrorsAndVerboseEachFile() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.rootWithUsers(["alice"])
        try FileManager.default.copyItem(atPath: SealOpenTests.images + "/camera.png", toPath: w.path("cat.png"))
        let seal = ["seal", "cat.png", "--to", "root/encryption.crt", "--key", "alice.key"]
        let quiet = try w.sealdrop(seal + ["-o", "q", "-q"])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty && quiet.stderr.isEmpty, "\(quiet.stdout)\(quiet.stderr)")
        #expect(w.exists("q/cat.png.seal"))
        let verbose = try w.sealdrop(seal + ["-o", "v", "-v"])
        #expect(verbose.stdout.contains("signing as CN=alice (alice.key, alice.crt)"), "\(verbose.stdout)")
        #expect(verbose.stdout.contains("  sealed cat.png -> v/cat.png.seal"), "\(verbose.stdout)")
        let failed = try w.sealdrop(["seal", "nope.png", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "q", "-q"])
        #expect(failed.status == 1 && failed.stdout.isEmpty && failed.stderr.contains("nope.png"), "errors are never quiet")
        let both = try w.sealdrop(seal + ["-o", "x", "-q", "-v"])
        #expect(both.status == 64 && both.stderr.contains("-q and -v contradict each other"))
        // A server command: -q keeps the log to warnings, and no summary.
        let drop = try w.sealdrop(["seal", "cat.png", "--to", "root/encryption.crt", "--key", "alice.key", "-o", "root/inbox/new", "-q"])
        #expect(drop.status == 0)
        let ingest = try w.sealdrop(["server", "ingest", "root", "--once", "-q"])
        #expect(ingest.stdout.isEmpty && !ingest.stderr.contains(" info "), "\(ingest.stdout)\(ingest.stderr)")
    }
}
