import ArgumentParser
import Foundation
import GcryptKit
import SealPKI
import SealServer

extension Sealdrop {
    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create and operate a sealdrop server root.",
            subcommands: [Init.self, Issue.self, Ingest.self, Watch.self, Status.self, Users.self, Revoke.self, Requeue.self, Fsck.self])
    }
}

extension Sealdrop.Server {
    struct Init: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Create a server root: CA, separate encryption key, inbox, outbox and store directories.")

        @Argument(help: "The server root directory.")
        var root: String

        @Option(help: "Key size in bits for the CA and encryption keys: 2048, 3072 or 4096.")
        var bits: Int = RSA.KeySize.default.rawValue

        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard RSA.KeySize(rawValue: bits) != nil else {
                throw ValidationError("--bits must be 2048, 3072 or 4096 (got \(bits))")
            }
        }

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            let secret = try passphrase.new(for: "the server keys in \(root)")
            let created = try about(root) { try serverRoot.initialize(passphrase: secret, keySize: RSA.KeySize(rawValue: bits)!) }
            print("initialised server root \(root)")
            print("CA          \(created.authority.subject)")
            print("encryption  \(serverRoot.encryptionCertificatePath) (separate key, issued by the CA)")
            print("delivery    \(serverRoot.deliveryCertificatePath) (signs fetch answers, issued by the CA)")
            print("CA fingerprint \(created.authority.fingerprint)")
            print("Give users this fingerprint through a channel you trust; they check it when they register.")
        }
    }

    struct Issue: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Issue a user certificate from a PKCS#10 request (the administrator's manual path).")

        @Argument(help: "The server root directory.")
        var root: String

        @Argument(help: "The certificate request (PEM).")
        var request: String

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Where to write the certificate.", valueName: "file"))
        var output: String

        @Flag(help: "Replace an existing output file.")
        var force = false

        @OptionGroup var passphrase: PassphraseOptions

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let csr = try about(request) { try CertificateRequest(pem: KeyFile.readText(request)) }
            guard csr.hasValidSelfSignature else {
                throw FileFailure(path: request, underlying: PKIError.badSignature("certificate request"))
            }
            _ = try about(request) { try csr.userName() }
            let secret = try passphrase.existing(for: serverRoot.caKeyPath)
            let authority = try about(serverRoot.caKeyPath) { try serverRoot.authority(passphrase: secret) }
            let catalogue = try about(root) { try serverRoot.catalogue() }
            let certificate = try about(request) { try serverRoot.issue(csr, by: authority, in: catalogue) }
            try about(output) { try AtomicFile.write(certificate.pem, to: output, replace: force) }
            print("issued \(output) to \"\(certificate.subject.commonName ?? "")\", valid until \(iso8601(certificate.notAfter))")
            print("fingerprint \(certificate.fingerprint)")
        }
    }
}
