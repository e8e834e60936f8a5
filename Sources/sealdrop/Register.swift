import ArgumentParser
import DropProtocol
import Foundation
import GcryptKit
import SealClient
import SealPKI

extension Sealdrop {
    struct Register: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Create your profile, pin the server's CA, and register a user name.",
            discussion: """
                The profile lives in $SEALDROP_HOME (default ~/.sealdrop). The server's CA fingerprint is \
                shown: compare it with the one the administrator gave you, or pass it with \
                --expect-fingerprint so a mismatch is refused, as ssh does with host keys. Over HTTPS, \
                everything after the fingerprint check travels on TLS pinned to that CA.

                Examples:
                  sealdrop register --server /srv/sealdrop --user alice
                  sealdrop register --server https://drop.example.org:8443 --user alice --expect-fingerprint SHA256:...
                """)

        @Option(help: ArgumentHelp("The server: its root directory, or its gateway as https://HOST:PORT.", valueName: "root-or-url"))
        var server: String?

        @Option(help: "The user name to register.")
        var user: String?

        @Flag(help: "Renew this profile's certificate for the same key, before it expires.")
        var renew = false

        @Option(help: ArgumentHelp("The CA fingerprint the administrator gave you; anything else is refused.", valueName: "fingerprint"))
        var expectFingerprint: String?

        @Option(help: "Key size in bits: 2048, 3072 or 4096.")
        var bits: Int = RSA.KeySize.default.rawValue

        @Option(help: "Seconds to wait for the server's answer.")
        var timeout: Double = 60

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var token: TokenOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            if !renew, server == nil || user == nil { throw ValidationError("register needs --server ROOT and --user NAME (or --renew)") }
            guard RSA.KeySize(rawValue: bits) != nil else { throw ValidationError("--bits must be 2048, 3072 or 4096 (got \(bits))") }
            if let expectFingerprint, Fingerprint(parsing: expectFingerprint) == nil {
                throw ValidationError("--expect-fingerprint is not a SHA-256 fingerprint")
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let home = profileHome.path
            if renew { return try renewCertificate(home: home) }
            guard let server, let user else { return }
            let name = try UserName(user)
            let registration = Registration(home: home, server: server, user: name)
            let key: any RSA.PrivateOperations
            switch try registration.existing() {
            case .registered:
                throw Registration.Failure.alreadyRegistered(home)
            case .unfinished:
                // A registration that did not finish: its key is kept, its request sent again.
                let profile = try Profile.load(home: home)
                let passphrase = self.passphrase, token = self.token
                key = try about(home) {
                    try registration.resume(existing: passphrase.profileSecret(profile), keys: token.home(passphrase, newKeysFor: profile.keyPath),
                                            keySize: RSA.KeySize(rawValue: bits)!)
                }
                say("resuming the registration of \"\(name)\" with the key in \(profile.keyPath); waiting for the server (up to \(Int(timeout)) s)")
            case .none:
                key = try pinAndPrepare(registration, name: name, home: home)
                say("request for \"\(name)\" sent; waiting for the server (up to \(Int(timeout)) s)")
            }
            let certificate = try registration.awaitCertificate(for: key, timeout: timeout)
            say("registered \"\(name)\": certificate valid until \(iso8601(certificate.notAfter))")
            say("profile in \(home)")
        }

        /// Shows the server's CA, has its fingerprint checked, and writes the profile.
        func pinAndPrepare(_ registration: Registration, name: UserName, home: String) throws -> any RSA.PrivateOperations {
            let authority = try Self.confirmedAuthority(of: registration, expecting: expectFingerprint)
            let keys = try token.home(passphrase, newKeysFor: "\(home)/\(name).key")
            return try about(home) { try registration.prepare(authority: authority, keys: keys, keySize: RSA.KeySize(rawValue: bits)!) }
        }

        func renewCertificate(home: String) throws {
            let profile = try Profile.load(home: home)
            let current = try about(profile.certificatePath) { try profile.certificate() }
            let registration = Registration(home: home, server: profile.settings.server, user: try UserName(profile.settings.user))
            let secret = try passphrase.profileSecret(profile)
            say("renewal for \"\(profile.settings.user)\" (valid until \(iso8601(current.notAfter))) dropped; waiting for the server (up to \(Int(timeout)) s)")
            let certificate = try registration.renew(secret: secret, timeout: timeout)
            say("renewed \"\(profile.settings.user)\": certificate valid until \(iso8601(certificate.notAfter))")
        }
    }

}

extension Sealdrop.Register {
    /// The server's CA, shown with its fingerprint, which must match `expected` or, without
    /// it, be confirmed on the terminal (with no terminal, pinned with a warning).
    static func confirmedAuthority(of registration: Registration, expecting expected: String?) throws -> Certificate {
        let authority = try about(registration.server) { try registration.serverAuthority() }
        say("server CA      \(authority.subject)")
        say("CA fingerprint \(authority.fingerprint)")
        if let expected {
            guard Fingerprint(parsing: expected) == authority.fingerprint else {
                throw UsageFailure(
                    message: "the server's CA fingerprint does not match --expect-fingerprint",
                    hint: "do not go on: someone may be impersonating the server; ask the administrator")
            }
            say("matches the expected fingerprint")
        } else if let answer = Terminal.ask("Does this match the fingerprint the administrator gave you? [y/N] "),
                  !["y", "yes"].contains(answer.lowercased()) {
            throw UsageFailure(message: "cancelled: fingerprint not confirmed", hint: nil)
        } else {
            FileHandle.standardError.write(Data("sealdrop: warning: pinning the CA without checking its fingerprint (pass --expect-fingerprint)\n".utf8))
        }
        return authority
    }
}
