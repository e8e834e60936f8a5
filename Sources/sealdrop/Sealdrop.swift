import ArgumentParser
import Foundation

@main
struct Sealdrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdrop",
        abstract: "Secure image sharing: signed, encrypted envelopes through a file-drop server.",
        version: "0.1.0",
        subcommands: [Keygen.self, Gallery.self, Request.self, Seal.self, Open.self, Inspect.self, Server.self, Register.self, Post.self, Fetch.self,
                      List.self, Tail.self, Status.self, ProfileCommand.self, Cert.self, Bench.self]
    )

    /// No subcommand is a usage error: the help, on standard error, and exit status 64.
    func run() throws {
        FileHandle.standardError.write(Data((Self.helpMessage() + "\n").utf8))
        throw ExitCode(64)
    }
}
