import ArgumentParser
import DropProtocol
import Foundation
import SealClient
import SealPKI

extension Sealdrop {
    struct Status: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Who you are, which server, and the posts still waiting for a verdict or refused.",
            discussion: """
                Verdicts that came since the last look (a post that stopped waiting, or sent with \\
                --no-wait) are collected first.

                Example: sealdrop status --json
                """)

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            let certificate = try about(profile.certificatePath) { try profile.certificate() }
            let log = PostLog(profile: profile)
            if try about(log.path, { try log.hasPending() }) {
                let key = try passphrase.keyIfRemote(for: profile)
                let transport = try about(profile.settings.server) { try profile.transport(key: key) }
                _ = try about(profile.settings.server) { try log.settle(Verdicts(transport: transport, user: profile.settings.user)) }
            }
            let entries = try about(log.path) { try log.entries() }
            let waiting = entries.filter { $0.state == "pending" }
            let refused = entries.filter { $0.state == "refused" }
            if json {
                struct Report: Encodable {
                    let user, server, fingerprint, certificateValidUntil: String
                    let accepted: Int
                    let pending, refused: [PostLog.Entry]
                    enum CodingKeys: String, CodingKey {
                        case user, server, fingerprint, accepted, pending, refused
                        case certificateValidUntil = "certificate_valid_until"
                    }
                }
                let report = Report(user: profile.settings.user, server: profile.settings.server, fingerprint: certificate.fingerprint.description,
                                    certificateValidUntil: iso8601(certificate.notAfter),
                                    accepted: entries.count - waiting.count - refused.count, pending: waiting, refused: refused)
                print(try jsonLine(report))
            } else {
                print("user        \(profile.settings.user) (certificate valid until \(iso8601(certificate.notAfter)))")
                print("fingerprint \(certificate.fingerprint)")
                print("server      \(profile.settings.server)")
                print("posts       \(entries.count - waiting.count - refused.count) accepted, \(waiting.count) waiting, \(refused.count) refused")
                for entry in waiting { print("  waiting  \(LogText.escaped(entry.name))  (\(entry.file), posted \(entry.time))") }
                for entry in refused { print("  refused  \(LogText.escaped(entry.name)): \(entry.reason ?? "no reason given")  (\(entry.file))") }
            }
        }
    }
}
