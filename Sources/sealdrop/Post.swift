import ArgumentParser
import DropProtocol
import Foundation
import SealClient
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Post: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "post",
            abstract: "Seal images to the server, send them, and wait for its verdict on each.",
            discussion: """
                Image names follow the envelope rules (docs/FORMAT.md §2): 1 to 255 bytes of UTF-8, \
                no '/', '\\\\' or control characters, not '.' or '..'. The name defaults to the file \
                name; a name another user already holds is refused by the server. Two files of one \
                batch with one name are refused before anything is sent.

                The profile records each post (posts.jsonl) by name and contents, so post run again \
                (after Ctrl-C, a failure, or on a folder that grew) sends only what is new or was \
                refused; --force sends everything again.

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

        @Flag(help: "Post again images this profile posted already (same name and contents).")
        var force = false

        @Flag(inversion: .prefixedNo, help: ArgumentHelp(
            "With several images, wrap one batch key for all of them (FORMAT.md §5.1): the server unwraps once per batch."))
        var batchWrap = true

        @Flag(inversion: .prefixedNo, help: ArgumentHelp(
            "With several images, sign each group of up to 256 once, over a Merkle root (FORMAT.md §7.2); each still verifies alone."))
        var batchSign = true

        @Flag(inversion: .prefixedNo, help: ArgumentHelp(
            "With batch signing, send each signed group as one drop, a bundle (FORMAT.md §13), to a server directory or gateway alike: the server claims one file instead of one per image."))
        var bundle = true

        @OptionGroup var batch: BatchOptions

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard Suite(name: suite) != nil else { throw ValidationError("--suite must be cbc-hmac or gcm (got \(suite))") }
            if name != nil, inputs.count != 1 { throw ValidationError("--name needs exactly one image") }
            try ImageNameOption.validate(name)
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            let encryption = try about(profile.encryptionPath) { try profile.encryptionCertificate() }
            detail("profile \(profile.home): \(profile.settings.user) on \(profile.settings.server)")
            let secret = try passphrase.profileSecret(profile)
            let signer = try about(profile.keyPath) { try profile.signer(secret: secret) }
            let transport = try about(profile.settings.server) { try profile.transport(key: signer.key) }
            let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: encryption.publicKey), suite: Suite(name: suite)!)
            let items = try BatchPlan.items(for: inputs, outputDirectory: profile.home, allowSharedOutput: true) { $0 }
            let poster = Poster(profile: profile, sealer: sealer, transport: transport)
            try ImageNameOption.check(name, items: items, input: inputs[0])
            let fixedName = name
            let names = Dictionary(uniqueKeysWithValues: items.map {
                ($0.input, EnvelopeHeader.normalizedName(fixedName ?? PathText.lastComponent(of: $0.input)))
            })
            try Self.refuseCollisions(items.map(\.input), names: names)
            let log = PostLog(profile: profile)
            let standing = force ? [:] : log.standing(try about(log.path) { try log.entries() })
            let bar = ProgressBar(verb: "posting")
            let interruption = Interruption()
            let start = Date()
            var batching = Poster.Batching()
            batching.wrap = batchWrap
            batching.sign = batchSign
            batching.bundle = bundle
            batching.jobs = batch.jobs
            let sending = try poster.send(items, names: names, batching: batching, skip: { item, digest in
                standing[PostLog.Content(name: names[item.input]!, sha256: digest)].map {
                    .skipped(.alreadyDone("posted already on \($0.time) (\($0.state))"))
                }
            }, stopped: { interruption.stopped }, progress: bar.update)
            let results = sending.results
            bar.finish()
            let sent = BatchReport.print(results, verb: "posted", seconds: Date().timeIntervalSince(start), json: batch.json)
            let waiting = sending.posted
            var refused = 0
            if !noWait, !interruption.stopped, !waiting.isEmpty {
                if !batch.json { say("waiting for the server's verdicts (up to \(Int(wait)) s)") }
                let verdicts = try about(profile.settings.server) {
                    try poster.verdicts(for: waiting, timeout: wait, stopped: { interruption.stopped }) { entry, verdict in
                        switch verdict {
                        case .accepted: if !batch.json { say("  accepted \(LogText.escaped(entry.name))") }
                        case .refused(let reason): print("  refused  \(LogText.escaped(entry.name)): \(reason)")
                        }
                        fflush(nil)
                    }
                }
                refused = verdicts.values.filter { $0 != Verdict.accepted }.count
                let pending = waiting.count - verdicts.count
                if pending > 0, !interruption.stopped {
                    FileHandle.standardError.write(Data((
                        "sealdrop: \(pending) of \(waiting.count) not answered within \(Int(wait)) s (the server may ingest from cron)\n"
                        + "hint: sealdrop status shows their verdicts when they come\n").utf8))
                }
                if !batch.json { say("\(verdicts.count - refused) accepted, \(refused) refused, \(pending) not answered yet") }
            }
            try interruption.exitIfStopped(results)
            guard sent else { throw ExitCode.failure }
            if refused > 0 { throw ExitCode(3) }
        }
    }

}

extension Sealdrop.Post {
    /// Two files of one batch may not be posted under one name: one would replace the other.
    static func refuseCollisions(_ inputs: [String], names: [String: String]) throws {
        var first: [String: String] = [:]
        for input in inputs {
            let name = names[input]!
            if let other = first[name] {
                throw UsageFailure(message: "\(other) and \(input) would both be posted as \"\(LogText.escaped(name))\"",
                                   hint: "rename one of them, or post one alone with --name NAME")
            }
            first[name] = input
        }
    }
}
