import Foundation
import Testing

/// Every command that takes a path, given one-character, relative, unicode-and-space and
/// absolute paths: each works, and none dies of a signal (NSString's path helpers trapped
/// on one-character paths). A failed `server issue` records nothing.
@Suite(.serialized) struct PathCLITests {
    enum Form: String, CaseIterable, CustomStringConvertible {
        case bare, relative, unicode, absolute
        var description: String { rawValue }

        /// The path of a file named by one letter, in this form.
        func path(_ letter: String, in w: Workspace) -> String {
            switch self {
            case .bare: letter
            case .relative: "./" + letter
            case .unicode: "é " + letter
            case .absolute: w.path(letter)
            }
        }
    }

    @Test(arguments: Form.allCases) func everyPathTakingCommand(_ form: Form) throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let p = { (letter: String) in form.path(letter, in: w) }
        var runs: [(String, Run)] = []
        func run(_ arguments: [String], expect status: Int32 = 0) throws {
            let result = try w.sealdrop(arguments)
            runs.append((arguments.joined(separator: " "), result))
            #expect(!result.signalled, "\(arguments) died of signal \(result.status)")
            #expect(result.status == status, "\(arguments): \(result.stderr)")
        }
        try FileManager.default.copyItem(atPath: ServerFlowTests.images + "/horse.png", toPath: w.path(form == .unicode ? "é i" : "i"))
        try run(["keygen", "--out", p("k"), "--bits", "2048"])
        try run(["request", "--key", p("k") + ".key", "--user", "alice", "-o", p("c")])
        try run(["server", "init", p("r"), "--bits", "2048"])
        try run(["server", "issue", p("r"), p("c"), "-o", p("t")])
        try run(["cert", "show", p("t")])
        try run(["cert", "verify", p("t"), "--ca", p("r") + "/ca.crt"])
        try run(["seal", p("i"), "--to", p("r") + "/encryption.crt", "--key", p("k") + ".key", "--cert", p("t"), "-o", p("s")])
        // The image is named after the input file: "i", or "é i".
        let image = form == .unicode ? "é i" : "i"
        try run(["inspect", p("s") + "/\(image).seal"])
        try run(["open", p("s"), "--key", p("r") + "/encryption.key", "--ca", p("r") + "/ca.crt", "-o", p("o")])
        #expect(FileManager.default.contentsEqual(atPath: w.path((form == .unicode ? "é o" : "o") + "/" + image),
                                                  andPath: ServerFlowTests.images + "/horse.png"))
        try run(["server", "tls-cert", p("r"), "--bits", "2048"])
        try run(["server", "fsck", p("r")])
        // An issue that cannot write its output takes no name: the same request then succeeds.
        try run(["keygen", "--out", p("b"), "--bits", "2048"])
        try run(["request", "--key", p("b") + ".key", "--user", "bob", "-o", p("q")])
        try run(["server", "issue", p("r"), p("q"), "-o", p("t")], expect: 1)
        try run(["server", "issue", p("r"), p("q"), "-o", p("u")])
        // The client side: a profile from those files, then every profile command on it.
        try w.write("test passphrase\n", to: form == .unicode ? "é w" : "w")
        try run(["profile", "import", "--key", p("b") + ".key", "--cert", p("u"), "--server", p("r"), "--home", p("h"),
                 "--passphrase-file", p("w")])
        try run(["post", p("i"), "--home", p("h"), "--no-wait", "--passphrase-file", p("w")])
        try run(["server", "ingest", p("r"), "--once"])
        for command in [["status"], ["tail"], ["list"]] { try run(command + ["--home", p("h")]) }
        #expect(runs.allSatisfy { !$0.1.signalled })
    }
}
