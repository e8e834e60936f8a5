import ArgumentParser
import Foundation
import SealPKI

extension Sealdrop {
    struct Request: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "request",
            abstract: "Write a PKCS#10 certificate request for a user name, signed by the key.",
            discussion: """
                Examples:
                  sealdrop request --key alice.key --user alice -o alice.csr
                  openssl req -in alice.csr -verify -noout
                """)

        @Option(help: ArgumentHelp("The private key (BASE.key).", valueName: "file"))
        var key: String

        @Option(help: "The user name to request.")
        var user: String

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Where to write the request.", valueName: "file"))
        var output: String

        @Flag(help: "Replace an existing output file.")
        var force = false

        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let name = try UserName(user)
            let privateKey = try passphrase.privateKey(at: key)
            let request = try CertificateRequest(userName: name, key: privateKey)
            try about(output) { try AtomicFile.write(request.pem, to: output, replace: force) }
            say("wrote \(output): request for \"\(name)\"")
            say("key fingerprint \(privateKey.publicKey.fingerprint)")
        }
    }
}
