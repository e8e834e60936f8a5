import ArgumentParser
import Foundation
import SealPKI

extension Sealdrop {
    struct Cert: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cert",
            abstract: "Show or verify certificates.",
            subcommands: [Show.self, Verify.self])
    }
}

extension Sealdrop.Cert {
    struct Show: Reporting {
        static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a certificate's fields.",
            discussion: """
                Examples:
                  sealdrop cert show alice.crt
                  sealdrop cert show server/ca.crt --json
                """)

        @Argument(help: "The certificate (PEM).")
        var file: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let certificate = try about(file) { try Certificate(pem: KeyFile.readText(file)) }
            let fields: [(String, String)] = [
                ("subject", certificate.subject.description),
                ("issuer", certificate.issuer.description),
                ("serial", certificate.serialNumber.hexString),
                ("not_before", iso8601(certificate.notBefore)),
                ("not_after", iso8601(certificate.notAfter)),
                ("key", "RSA \(certificate.publicKey.bitCount)"),
                ("key_fingerprint", certificate.publicKey.fingerprint.description),
                ("key_usage", certificate.extensions.keyUsage?.description ?? ""),
                ("ca", certificate.extensions.isCA == true ? "yes" : "no"),
                ("signature", certificate.signatureAlgorithm == .rsaPSSSHA256 ? "RSA-PSS SHA-256" : "RSA PKCS#1 v1.5 SHA-256"),
                ("fingerprint", certificate.fingerprint.description),
            ]
            if json {
                // Yes/no fields are JSON booleans.
                var object: [String: Any] = Dictionary(uniqueKeysWithValues: fields)
                object["ca"] = certificate.extensions.isCA == true
                printJSON(object)
            } else {
                print("certificate \(file)")
                for (label, value) in fields {
                    print("  \(label.padding(toLength: 16, withPad: " ", startingAt: 0))\(value)")
                }
            }
        }
    }

    struct Verify: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Verify a certificate against a CA certificate: signature, validity, usage, name.",
            discussion: """
                Examples:
                  sealdrop cert verify alice.crt --ca server/ca.crt --name alice
                """)

        @Argument(help: "The certificate to check (PEM).")
        var file: String

        @Option(help: ArgumentHelp("The CA certificate (PEM).", valueName: "file"))
        var ca: String

        @Option(help: "Also require this user name.")
        var name: String?

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let authority = try about(ca) { try Certificate(pem: KeyFile.readText(ca)) }
            guard authority.extensions.isCA == true, authority.isSelfSigned else {
                throw FileFailure(path: ca, underlying: PKIError.certificateRejected("not a self-signed CA certificate"))
            }
            let certificate = try about(file) { try Certificate(pem: KeyFile.readText(file)) }
            try about(file) { try certificate.verify(issuedBy: authority, name: name) }
            say("\(file): OK (\(certificate.subject), issued by \(authority.subject), valid until \(iso8601(certificate.notAfter)))")
        }
    }
}
