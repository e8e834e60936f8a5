import ArgumentParser
import DropProtocol
import Foundation
import GcryptKit
import Logging
import SealPKI
import SealGateway
import SealServer
import ServiceLifecycle

/// Options every ingesting command shares.
struct IngestOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Largest drop accepted, in bytes (suffixes k, m, g).", valueName: "size"))
    var maxSize: String = "256m"

    @Option(help: ArgumentHelp("Oldest envelope accepted, in seconds (the replay window).", valueName: "seconds"))
    var maxAge: Double = 24 * 3600

    @Option(help: ArgumentHelp("Envelopes committed per transaction (group commit).", valueName: "n"))
    var batchSize: Int = IngestPolicy().batchSize

    @Option(help: ArgumentHelp("Log format: text or json.", valueName: "format"))
    var logFormat: String = "text"

    @Flag(help: "Log one JSON object per line (same as --log-format json).")
    var json = false

    func validate() throws {
        _ = try policy()
        guard LineLogHandler.Format(rawValue: logFormat) != nil else { throw ValidationError("--log-format must be text or json") }
    }

    func policy() throws -> IngestPolicy {
        var policy = IngestPolicy()
        guard let bytes = ByteSize.parse(maxSize) else { throw ValidationError("--max-size: \(maxSize) is not a size") }
        policy.maximumBytes = bytes
        guard maxAge > 0 else { throw ValidationError("--max-age must be positive") }
        policy.maximumAge = maxAge
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        policy.batchSize = batchSize
        return policy
    }

    /// Info by default; -q keeps warnings and errors, -v adds debug lines.
    var logger: Logger {
        var logger = LineLogHandler.logger("sealdrop.server", format: json ? .json : LineLogHandler.Format(rawValue: logFormat) ?? .text)
        logger.logLevel = switch Verbosity.current {
        case .quiet: .warning
        case .normal: .info
        case .verbose: .debug
        }
        return logger
    }
}

extension Sealdrop.Server {
    struct Ingest: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "ingest",
            abstract: "Ingest what is in the inbox, then exit (for cron).",
            discussion: """
                Exit status: 0 when every drop was accepted (or the inbox was empty), 3 when some \
                were quarantined (their reasons are in ROOT/quarantine), 1 on an error that stopped \
                ingestion. A lock keeps it from taking a file that a running `watch` has.

                Examples:
                  sealdrop server ingest /srv/sealdrop --once
                  */5 * * * *  sealdrop server ingest /srv/sealdrop --once --passphrase-file /etc/sealdrop/pass -q
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Flag(help: "Process the inbox once and exit (the default; for cron).")
        var once = false

        @OptionGroup var options: IngestOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let secret = try passphrase.serverSecret(serverRoot)
            let ingester = try about(root) { try Ingester(root: serverRoot, secret: secret, policy: options.policy(), logger: options.logger) }
            let report = try ingester.runUntilEmpty()
            say("accepted \(report.accepted), registered \(report.registered), answered \(report.answered), quarantined \(report.quarantined)"
                  + (report.alreadyIngested > 0 ? ", \(report.alreadyIngested) already ingested" : ""))
            if report.quarantined > 0 { throw ExitCode(3) }
        }
    }

    struct Watch: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "watch",
            abstract: "Ingest continuously: inotify wake-ups, a periodic rescan, graceful stop on SIGTERM/SIGINT.",
            discussion: """
                Examples:
                  sealdrop server watch /srv/sealdrop --passphrase-file /etc/sealdrop/pass --log-format json
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Option(help: "Seconds between rescans even without events.")
        var rescan: Double = 30

        @OptionGroup var options: IngestOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let daemon = try about(root) { try DaemonLock(root: serverRoot) }
            let secret = try passphrase.serverSecret(serverRoot)
            let stop = StopSignal()
            let ingester = try about(root) { try Ingester(root: serverRoot, secret: secret, policy: options.policy(), logger: options.logger) }
            try withExtendedLifetime(daemon) {
                try Watcher(ingester: ingester, rescanInterval: rescan, logger: options.logger).run(until: stop)
            }
        }
    }

    struct Serve: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "serve",
            abstract: "Serve the root over HTTPS with mutual TLS (docs/HTTP.md), ingesting in the same process.",
            discussion: """
                Users on other machines register, post, fetch and follow notifications through it \
                with `sealdrop register --server https://HOST:PORT ...`. The TLS certificate is \
                ROOT/tls.crt (server init --hostname, server tls-cert). Stops gracefully on SIGTERM \
                or SIGINT: uploads in progress finish, the batch in hand is committed.

                Example: sealdrop server serve /srv/sealdrop --listen 0.0.0.0:8443
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Option(help: ArgumentHelp("Address and port to listen on (port 0: any free port, printed).", valueName: "host:port"))
        var listen: String = "127.0.0.1:8443"

        @Flag(inversion: .prefixedNo, help: "Ingest in this process (--no-ingest when a separate `server watch` ingests).")
        var ingest = true

        @Option(help: ArgumentHelp("Uploads one user may have in progress.", valueName: "n"))
        var maxUploadsPerUser = GatewayLimits().maximumUploadsPerUser

        @Option(help: ArgumentHelp("Requests a second per user (bursts of twice that).", valueName: "n"))
        var rate = GatewayLimits().requestsPerSecond

        @Option(help: ArgumentHelp("Open connections at most.", valueName: "n"))
        var maxConnections = GatewayLimits().maximumConnections

        @Option(help: "Seconds between rescans even without events (with --ingest).")
        var rescan: Double = 30

        @OptionGroup var options: IngestOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard address() != nil else { throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:8443 or [::1]:8443") }
            guard maxUploadsPerUser >= 1, rate > 0, maxConnections >= 1 else {
                throw ValidationError("--max-uploads-per-user, --rate and --max-connections must be positive")
            }
        }

        func address() -> (host: String, port: Int)? {
            ListenAddress(listen).map { ($0.host, $0.port) }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let serverRoot = ServerRoot(path: root)
            _ = try about(root) { try serverRoot.authorityCertificate() }
            let secret = try passphrase.serverSecret(serverRoot)
            let policy = try options.policy()
            let logger = options.logger
            var limits = GatewayLimits()
            limits.maximumUploadBytes = policy.maximumBytes
            limits.maximumUploadsPerUser = maxUploadsPerUser
            limits.requestsPerSecond = rate
            limits.maximumConnections = maxConnections
            let gateway = try about(root) { try Gateway(root: serverRoot, secret: secret, limits: limits, logger: logger) }
            var services: [any Service] = []
            let daemon = ingest ? try about(root) { try DaemonLock(root: serverRoot) } : nil
            if ingest {
                let ingester = try about(root) { try Ingester(root: serverRoot, secret: secret, policy: policy, logger: logger) }
                let rescan = self.rescan
                services.append(BlockingService(name: "ingester") { stop in
                    try Watcher(ingester: ingester, rescanInterval: rescan, logger: logger).run(until: stop)
                })
            }
            let (host, port) = address()!
            let application = try gateway.application(host: host, port: port, services: services) { bound in
                let shown = host.contains(":") ? "[\(host)]" : host
                print("listening on https://\(shown):\(bound)")
                fflush(nil)
            }
            try withExtendedLifetime(daemon) { try blocking { try await application.runService() } }
        }
    }

    struct Status: Reporting {
        static let configuration = CommandConfiguration(commandName: "status", abstract: "Counts, inbox backlog, quarantine, last ingest and where the keys are.",
            discussion: """
                For keys on a token, give the PIN (--pin-file or SEALDROP_PIN; never asked for) to have \
                the token say how it holds them: sensitive, extractable, never extractable.

                Examples:
                  sealdrop server status /srv/sealdrop
                  sealdrop server status /srv/sealdrop --json
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Flag(help: "Print JSON.")
        var json = false

        @Option(help: ArgumentHelp("Read the PIN of the token holding the keys from this file.", valueName: "file"))
        var pinFile: String?

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let pin = try pinFile.map { try PassphraseOptions.firstLine(ofFile: $0, what: "PIN") }
                ?? ProcessInfo.processInfo.environment[PassphraseOptions.pinVariable].map { SecretBytes(Array($0.utf8)) }
            let status = try about(root) { try ServerStatus(root: ServerRoot(path: root), pin: pin) }
            if json {
                print(try jsonLine(status))
            } else {
                print("server root    \(root)")
                print("catalogue      \(status.catalogue)")
                print("users          \(status.users) (\(status.revokedUsers) revoked)")
                print("images         \(status.images)")
                print("notifications  \(status.notifications)")
                print("inbox backlog  \(status.inboxBacklog)")
                print("quarantined    \(status.quarantined)")
                print("last ingest    \(status.lastIngest ?? "never")")
                for node in status.nodes {
                    let ago = max(0, Int(Date().timeIntervalSince(node.seenAt)))
                    print("node           \(node.name): seen \(ago) s ago, inbox \(node.inboxBacklog), quarantined \(node.quarantined), log at seq \(node.logSeq)")
                }
                for key in status.keys {
                    let held = key.sensitive.map { sensitive in
                        [sensitive ? "sensitive" : "NOT sensitive",
                         key.extractable == false ? "not extractable" : "EXTRACTABLE",
                         key.neverExtractable == true ? "never extractable" : "was extractable"].joined(separator: ", ")
                    }
                    let place = key.token.map { "on token \"\($0)\"" } ?? "file \(key.location)"
                    print("\((key.role + " key").padding(toLength: 15, withPad: " ", startingAt: 0))\(place)" + (held.map { " (\($0))" } ?? ""))
                }
            }
        }
    }

    struct Users: Reporting {
        static let configuration = CommandConfiguration(commandName: "users", abstract: "List registered users.",
            discussion: """
                Examples:
                  sealdrop server users /srv/sealdrop
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let users = try about(root) { try ServerRoot(path: root).catalogue().users() }
            if json {
                printJSON(users.map { user -> [String: Any] in
                    var entry: [String: Any] = ["name": user.name, "certificate": user.certificateFingerprint,
                                                "registered": iso8601(user.registeredAt)]
                    if let revoked = user.revokedAt { entry["revoked"] = iso8601(revoked) }
                    return entry
                })
            } else {
                for user in users {
                    print("\(user.name.padding(toLength: 20, withPad: " ", startingAt: 0)) registered \(iso8601(user.registeredAt))"
                          + (user.revokedAt.map { "  REVOKED \(iso8601($0))" } ?? ""))
                }
            }
        }
    }

    struct Revoke: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "revoke",
            abstract: "Revoke a user: their later drops are quarantined; their images stay listed.",
            discussion: """
                Examples:
                  sealdrop server revoke /srv/sealdrop mallory
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Argument(help: "The user name.")
        var name: String

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            if let earlier = try about(root, { try ServerRoot(path: root).catalogue().revoke(name: name) }) {
                say("\(name) was already revoked on \(iso8601(earlier)); nothing changed")
            } else {
                say("revoked \(name)")
            }
        }
    }

    struct Requeue: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "requeue",
            abstract: "Put quarantined drops back into the inbox (those set aside because the server stopped while examining them).",
            discussion: """
                Examples:
                  ls /srv/sealdrop/quarantine
                  sealdrop server requeue /srv/sealdrop d0000019ad1b2c3d4e5f60718
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Argument(help: "The ids of the drops: their file names in ROOT/quarantine.")
        var ids: [String]

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let quarantine = Quarantine(root: ServerRoot(path: root))
            _ = try about(root) { try ServerRoot(path: root).authorityCertificate() }
            for id in ids {
                try about("\(root)/quarantine") { try quarantine.requeue(id) }
                say("requeued \(id)")
            }
        }
    }

    struct Fsck: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "fsck",
            abstract: "Check that every image has its blob, every blob an image, and the log matches the database.",
            discussion: """
                Examples:
                  sealdrop server fsck /srv/sealdrop
                  sealdrop server fsck /srv/sealdrop --repair
                """)

        @Argument(help: "The server root directory.")
        var root: String

        @Flag(help: "Remove orphan and superseded blobs, rebuild the notification log, fix modes; says each thing it did.")
        var repair = false

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let checker = SealServer.Fsck(root: ServerRoot(path: root))
            var problems: [SealServer.Fsck.Problem]
            if repair {
                let outcome = try about(root) { try checker.repair() }
                for sentence in outcome.done { say(sentence) }
                if outcome.done.isEmpty { say("nothing to repair") }
                problems = outcome.remaining
            } else {
                problems = try about(root) { try checker.check() }
            }
            for problem in problems { print(problem) }
            guard problems.isEmpty else {
                throw UsageFailure(message: "\(root): \(problems.count) problem\(problems.count == 1 ? "" : "s") found",
                                   hint: problems.contains(where: \.repairable) ? "run: sealdrop server fsck \(root) --repair" : nil)
            }
            say("\(root): clean")
        }
    }
}
