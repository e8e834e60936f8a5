import ArgumentParser
import DropProtocol
import Foundation
import GcryptKit
import SealPKI
import SealServer
import SealToken

extension Sealdrop {
    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server",
            abstract: "Create and operate a sealdrop server root.",
            subcommands: [Init.self, TLSCert.self, MigrateKeysToToken.self, Issue.self, Ingest.self, Watch.self, Serve.self, Status.self, Users.self, Revoke.self, Requeue.self, Fsck.self])
    }
}

extension Sealdrop.Server {
    struct Init: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "init",
            abstract: "Create a server root: CA, encryption, delivery and TLS keys, inbox, outbox and store directories.",
            discussion: """
                With --pkcs11-module and --pkcs11-token the four keys are made on the token (sensitive, \
                never extractable) and the root holds only their certificates and PKCS#11 URIs; every \
                server command then asks for the token's PIN (--pin-file, SEALDROP_PIN) instead of a passphrase.

                With --database the catalogue is that PostgreSQL database instead of SQLite in the root \
                (its URL, password included, goes to ROOT/catalogue.url, mode 0600). Further nodes of the \
                same server, each with its own root and inbox, share it: make each with --join, naming the \
                first root (or a copy of its key files, certificates and catalogue.url) and giving its \
                passphrase or PIN. A node gets the server's CA, encryption and delivery keys as they are \
                (still encrypted, or on the same token) and a TLS key of its own.

                Examples:
                  sealdrop server init /srv/sealdrop
                  sealdrop server init /srv/sealdrop --hostname images.example.org --hostname 192.0.2.7
                  sealdrop server init /srv/sealdrop --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token sealdrop
                  sealdrop server init /srv/node1 --database postgres://sealdrop:PASSWORD@db.example.org/sealdrop
                  sealdrop server init /srv/node2 --join /srv/node1 --hostname node2.example.org
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Option(help: ArgumentHelp(
            "Keep the catalogue in this PostgreSQL database, shared by every node of the server.",
            valueName: "postgres://user:password@host:port/database"))
        var database: String?

        @Option(help: ArgumentHelp("Make this root another node of the server whose root (or a copy of it) is here.", valueName: "root"))
        var join: String?

        @OptionGroup var keys: ServerKeyOptions
        @OptionGroup var token: TokenOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func validate() throws {
            if join != nil && token.module != nil {
                throw ValidationError("--join takes the keys of the root it joins: give no --pkcs11-module")
            }
        }

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            let hostnames = try keys.altNames()
            if let join {
                let existing = ServerRoot(path: join)
                let secret = try passphrase.serverSecret(existing)
                let certificate = try about(root) {
                    try serverRoot.join(existing, secret: secret, databaseURL: database, keySize: keys.keySize, hostnames: hostnames)
                }
                say("initialised server root \(root), a node of the server at \(join)")
                say("catalogue   \(try about(root) { try serverRoot.catalogue().location })")
                say("TLS         \(serverRoot.tlsCertificatePath) (for \(hostnames.map(\.description).joined(separator: ", ")))")
                say("CA fingerprint \(try serverRoot.authorityCertificate().fingerprint) (the server's, unchanged)")
                say("TLS fingerprint \(certificate.fingerprint)")
                return
            }
            let home = try token.home(passphrase, newKeysFor: "the server keys in \(root)")
            let created = try about(root) {
                try serverRoot.initialize(keys: home, keySize: keys.keySize, hostnames: hostnames, databaseURL: database)
            }
            say("initialised server root \(root)")
            if database != nil { say("catalogue   \(try about(root) { try serverRoot.catalogue().location })") }
            say("CA          \(created.authority.subject)")
            say("encryption  \(serverRoot.encryptionCertificatePath) (separate key, issued by the CA)")
            say("delivery    \(serverRoot.deliveryCertificatePath) (signs fetch answers, issued by the CA)")
            say("TLS         \(serverRoot.tlsCertificatePath) (for \(hostnames.map(\.description).joined(separator: ", ")))")
            say("CA fingerprint \(created.authority.fingerprint)")
            say("Give users this fingerprint through a channel you trust; they check it when they register.")
        }
    }

    struct TLSCert: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "tls-cert",
            abstract: "Make a new TLS key and certificate for `server serve`, for the host names clients dial.",
            discussion: """
                Replaces ROOT/tls.key and ROOT/tls.crt. Clients trust it through the CA they pinned, \
                so nothing changes for them; restart `server serve` to use it.

                Example: sealdrop server tls-cert /srv/sealdrop --hostname drop.example.org --hostname 192.0.2.10
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @OptionGroup var keys: ServerKeyOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let secret = try passphrase.serverSecret(serverRoot)
            let hostnames = try keys.altNames()
            let certificate = try about(root) {
                try serverRoot.issueTLSCertificate(
                    by: serverRoot.authority(secret: secret), hostnames: hostnames, keys: serverRoot.keyHome(secret: secret), keySize: keys.keySize)
            }
            say("issued \(serverRoot.tlsCertificatePath) for \(hostnames.map(\.description).joined(separator: ", "))")
            say("valid until \(certificate.notAfter)")
        }
    }

    struct MigrateKeysToToken: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "migrate-keys-to-token",
            abstract: "Move a root's key files onto a PKCS#11 token, then remove the files.",
            discussion: """
                Each key is imported (sensitive and never extractable from then on, limited to its use: \
                only the encryption key decrypts), ROOT/NAME.pkcs11 records where it is, then ROOT/NAME.key \
                is removed. Run it with the server stopped; interrupted, run it again. The keys cannot be \
                taken off the token afterwards: keep an offline copy of the key files first if you want one. \
                Give the files' passphrase (SEALDROP_PASSPHRASE, --passphrase-file) and the token's PIN \
                (SEALDROP_PIN, --pin-file).

                Example: sealdrop server migrate-keys-to-token /srv/sealdrop --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token sealdrop
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @OptionGroup var token: TokenOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func validate() throws {
            if token.module == nil { throw ValidationError("give the token: --pkcs11-module PATH --pkcs11-token LABEL") }
        }

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let secret = try passphrase.existing(for: "the server keys in \(root)")
            guard case .token(let onToken) = try token.home(passphrase, newKeysFor: root) else { return }
            let moved = try about(root) { try serverRoot.migrateKeys(passphrase: secret, to: onToken) }
            say(moved.isEmpty ? "no key file left in \(root): the keys are on the token already"
                : "moved the \(moved.joined(separator: ", ")) keys onto token \"\(onToken.label)\" and removed their files")
            say("server commands now ask for the token's PIN (SEALDROP_PIN, --pin-file) instead of the passphrase")
        }
    }

    struct Issue: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "issue",
            abstract: "Issue a user certificate from a PKCS#10 request (the administrator's manual path).",
            discussion: """
                Examples:
                  sealdrop server issue /srv/sealdrop alice.csr -o alice.crt
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Argument(help: "The certificate request (PEM).")
        var request: String

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Where to write the certificate.", valueName: "file"))
        var output: String

        @Flag(help: "Replace an existing output file.")
        var force = false

        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let csr = try about(request) { try CertificateRequest(pem: KeyFile.readText(request)) }
            guard csr.hasValidSelfSignature else {
                throw FileFailure(path: request, underlying: PKIError.badSignature("certificate request"))
            }
            _ = try about(request) { try csr.userName() }
            let secret = try passphrase.serverSecret(serverRoot)
            let authority = try about(serverRoot.caKeyPath) { try serverRoot.authority(secret: secret) }
            let catalogue = try about(root) { try serverRoot.catalogue() }
            let output = self.output, force = self.force
            let certificate = try about(request) {
                try serverRoot.issue(csr, by: authority, in: catalogue, deliver: { certificate in
                    try about(output) { try AtomicFile.write(certificate.pem, to: output, replace: force) }
                }, withdraw: { _ in unlink(output) })
            }
            say("issued \(output) to \"\(certificate.subject.commonName ?? "")\", valid until \(iso8601(certificate.notAfter))")
            say("fingerprint \(certificate.fingerprint)")
        }
    }
}

/// The size of the keys a server command makes, and the names its TLS certificate is for.
struct ServerKeyOptions: ParsableArguments {
    @Option(help: "Key size in bits for the keys made: 2048, 3072 or 4096.")
    var bits: Int = RSA.KeySize.default.rawValue

    @Option(name: .customLong("hostname"), help: ArgumentHelp(
        "A DNS name or IP address clients use to reach `server serve` (repeat for more; default: localhost, 127.0.0.1 and ::1).",
        valueName: "name"))
    var hostnames: [String] = []

    func validate() throws {
        guard RSA.KeySize(rawValue: bits) != nil else {
            throw ValidationError("--bits must be 2048, 3072 or 4096 (got \(bits))")
        }
        _ = try altNames()
    }

    var keySize: RSA.KeySize { RSA.KeySize(rawValue: bits) ?? .default }

    func altNames() throws -> [AltName] {
        guard !hostnames.isEmpty else { return ServerRoot.loopbackNames }
        return try hostnames.map { name in
            guard let alt = AltName(name) else {
                throw ValidationError("--hostname \(name): not a DNS name (letters, digits, hyphens, dots) or an IP address")
            }
            return alt
        }
    }
}
