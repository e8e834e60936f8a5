import ArgumentParser
import Foundation
import GcryptKit
import SealClient
import SealPKI
import SealToken

extension Sealdrop {
    struct ProfileCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "profile",
            abstract: "Manage the client profile.",
            subcommands: [Import.self])
    }
}

extension Sealdrop.ProfileCommand {
    struct Import: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Make a profile of a key and certificate you already have, instead of registering.",
            discussion: """
                For a key made with keygen (or openssl) whose certificate the administrator issued \
                with server issue. The certificate must be the server's, current, and for that key; \
                the user name is its subject. The key is stored in the profile in sealdrop's own \
                encrypted format under the same passphrase; the files given are left as they are.

                Examples:
                  sealdrop profile import --key alice.key --cert alice.crt --server /srv/sealdrop
                  sealdrop profile import --key alice.key --cert alice.crt --server https://drop.example.org:8443 \\
                      --expect-fingerprint SHA256:... --home ~/.sealdrop-alice
                """)

        @Option(help: ArgumentHelp("The private key (sealdrop's, or openssl's PKCS#8 or traditional encrypted PEM).", valueName: "file"))
        var key: String

        @Option(help: ArgumentHelp("Its certificate, issued by the server's CA.", valueName: "file"))
        var cert: String

        @Option(help: ArgumentHelp("The server: its root directory, or its gateway as https://HOST:PORT.", valueName: "root-or-url"))
        var server: String

        @Option(help: ArgumentHelp("The CA fingerprint the administrator gave you; anything else is refused.", valueName: "fingerprint"))
        var expectFingerprint: String?

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            if let expectFingerprint, Fingerprint(parsing: expectFingerprint) == nil {
                throw ValidationError("--expect-fingerprint is not a SHA-256 fingerprint")
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let certificate = try about(cert) { try Certificate(pem: KeyFile.readText(cert)) }
            let user = try about(cert) { try UserName(certificate.subject.commonName ?? "") }
            let home = profileHome.path
            let registration = Registration(home: home, server: server, user: user)
            guard try registration.existing() == .none else { throw Registration.Failure.alreadyRegistered(home) }
            let stored = try about(key) { try StoredKey.locate(key) }
            let secret = try passphrase.unlocking(stored, what: key)
            let privateKey = try about(key) { try stored.unlock(secret) }
            let authority = try Sealdrop.Register.confirmedAuthority(of: registration, expecting: expectFingerprint)
            try about(cert) {
                try registration.importIdentity(key: privateKey, certificate: certificate, authority: authority, passphrase: secret)
            }
            say("imported \"\(user)\" (certificate valid until \(iso8601(certificate.notAfter))) into the profile in \(home)")
        }
    }
}
