import ArgumentParser
import DropProtocol
import Foundation
import SealClient
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Post: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Seal images to the server, send them, and wait for its verdict on each.",
            discussion: """
                Image names follow the envelope rules (docs/FORMAT.md §2): 1 to 255 bytes of UTF-8, \
                no '/', '\\\\' or control characters, not '.' or '..'. The name defaults to the file \
                name; a name another user already holds is refused by the server.

                post waits up to --wait seconds for the server to accept or refuse each file and \
                prints each verdict; a server that ingests from cron may answer later: \
                `sealdrop status` shows the verdicts then. Exit status: 0 when every file was sent \
                and none refused, 3 when the server refused some, 1 when some could not be sent.

                Examples:
                  sealdrop post holiday/
                  sealdrop post cat.png --name "the cat.png" --no-wait
                """)

        @Argument(help: ArgumentHelp("Images or folders of images.", valueName: "image-or-dir"))
        var inputs: [String]

        @Option(help: "The image name (one image only; default: its file name).")
        var name: String?

        @Option(help: "Cipher suite: cbc-hmac or gcm.")
        var suite: String = Suite.cbcHMAC.description

        @Option(help: ArgumentHelp("Seconds to wait for the server's verdicts.", valueName: "seconds"))
        var wait: Double = 60

        @Flag(help: "Send and return without waiting for the verdicts (see them later with sealdrop status).")
        var noWait = false


        @OptionGroup var batch: BatchOptions

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard Suite(name: suite) != nil else { throw ValidationError("--suite must be cbc-hmac or gcm (got \(suite))") }
            if name != nil, inputs.count != 1 { throw ValidationError("--name needs exactly one image") }
            try ImageNameOption.validate(name)
        }

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            let encryption = try about(profile.encryptionPath) { try profile.encryptionCertificate() }
            let secret = try passphrase.existing(for: profile.keyPath)
            let signer = try about(profile.keyPath) { try profile.signer(passphrase: secret) }
            let transport = try about(profile.settings.server) { try profile.transport(key: signer.key) }
            let poster = Poster(
                sealer: EnvelopeSealer(signer: signer, recipient: RSARecipient(key: encryption.publicKey), suite: Suite(name: suite)!),
                transport: transport)
            let items = try BatchPlan.items(for: inputs, outputDirectory: profile.home, allowSharedOutput: true) { $0 }
            try ImageNameOption.check(name, items: items, input: inputs[0])
            let bar = ProgressBar(verb: "posting")
            let start = Date()
            let fixedName = name
            let results = BatchRunner.run(items, jobs: batch.jobs, work: { item in
                do {
                    let summary = try poster.post(item.input, name: fixedName ?? PathText.lastComponent(of: item.input))
                    return .done(output: summary.envelopeID.hexString, bytes: summary.payloadLength)
                } catch EnvelopeError.unrecognisedMedia where item.discovered {
                    return .skipped(.notAnImage)
                } catch {
                    return .failed(error)
                }
            }, progress: bar.update)
            bar.finish()
            let sent = BatchReport.print(results, verb: "posted", seconds: Date().timeIntervalSince(start), json: batch.json)
            // What was sent is recorded first, so status knows it even if the wait is cut short.
            let log = PostLog(profile: profile)
            let now = iso8601(Date())
            var posted: [String: PostLog.Entry] = [:]
            for result in results {
                guard case .done(let id, _) = result.outcome else { continue }
                posted[id] = PostLog.Entry(id: id, name: fixedName ?? PathText.lastComponent(of: result.item.input),
                                           file: result.item.input, time: now, state: "pending")
            }
            try about(log.path) { try log.append(Array(posted.values)) }
            var refused = 0
            if !noWait, !posted.isEmpty {
                if !batch.json { print("waiting for the server's verdicts (up to \(Int(wait)) s)") }
                let verdicts = try about(profile.settings.server) {
                    try Verdicts(transport: transport, user: profile.settings.user).wait(for: Set(posted.keys), timeout: wait) { id, verdict in
                        guard let entry = posted[id] else { return }
                        switch verdict {
                        case .accepted: if !batch.json { print("  accepted \(LogText.escaped(entry.name))") }
                        case .refused(let reason): print("  refused  \(LogText.escaped(entry.name)): \(reason)")
                        }
                        fflush(nil)
                    }
                }
                try about(log.path) { try log.append(verdicts.compactMap { id, verdict in posted[id]?.with(verdict) }) }
                refused = verdicts.values.filter { $0 != Verdict.accepted }.count
                let pending = posted.count - verdicts.count
                if pending > 0 {
                    FileHandle.standardError.write(Data((
                        "sealdrop: \(pending) of \(posted.count) not answered within \(Int(wait)) s (the server may ingest from cron)\n"
                        + "hint: sealdrop status shows their verdicts when they come\n").utf8))
                }
                if !batch.json { print("\(verdicts.count - refused) accepted, \(refused) refused, \(pending) not answered yet") }
            }
            guard sent else { throw ExitCode.failure }
            if refused > 0 { throw ExitCode(3) }
        }
    }
}
