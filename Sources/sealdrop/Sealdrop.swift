import ArgumentParser

@main
struct Sealdrop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sealdrop",
        abstract: "Secure image sharing: signed, encrypted envelopes through a file-drop server.",
        version: "0.1.0",
        subcommands: [Keygen.self, Request.self, Seal.self, Open.self, Inspect.self, Server.self, Register.self, Post.self, Fetch.self,
                      List.self, Tail.self, Status.self, Cert.self, Bench.self]
    )
}
