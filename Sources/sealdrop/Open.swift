import ArgumentParser
import Foundation
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Open: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "open",
            abstract: "Verify and decrypt envelopes (files or folders) addressed to your key.",
            discussion: """
                Checks the sender's certificate against the CA, the signature, and every chunk's MAC \
                before releasing a byte; the output file (named after the envelope's image name) \
                appears only when all checks pass.

                Examples:
                  sealdrop open sealed/ --key bob.key --ca ca.crt -o opened/
                  sealdrop open - --key bob.key --ca ca.crt -o - < cat.png.seal > cat.png
                """)

        @Argument(help: ArgumentHelp("Envelopes (binary or armour) or folders of envelopes; - reads one from standard input.", valueName: "envelope-or-dir"))
        var inputs: [String]

        @Option(help: ArgumentHelp("Your private key (BASE.key).", valueName: "file"))
        var key: String

        @Option(help: ArgumentHelp("The CA certificate that senders' certificates must chain to.", valueName: "file"))
        var ca: String

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder; - writes the image to standard output.", valueName: "dir"))
        var output: String


        @Flag(help: "Replace existing outputs.")
        var force = false

        @OptionGroup var batch: BatchOptions

        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            try StandardStreams.validate(inputs: inputs, output: output, outputHolds: "image")
            if passphrase.readsStandardInput, inputs.contains(StandardStreams.dash) {
                throw ValidationError("standard input holds the envelope (-): read the passphrase from another file or descriptor")
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let authority = try about(ca) { try Certificate(pem: KeyFile.readText(ca)) }
            guard authority.extensions.isCA == true, authority.isSelfSigned else {
                throw FileFailure(path: ca, underlying: PKIError.certificateRejected("not a self-signed CA certificate"))
            }
            // The key unlocks while the first envelope's first pass runs (it needs no key). A
            // folder of batch envelopes (§5.1) costs one RSA operation per batch.
            let unlocking = UnlockingIdentity(try passphrase.startUnlocking(at: key))
            let identity = BatchKeyCache(unlocking)
            detail("opening with \(key); senders must chain to \(authority.subject) (\(ca))")
            if inputs == [StandardStreams.dash] || output == StandardStreams.dash {
                return try tellingAFailedUnlock(unlocking) { try openOne(inputs[0], identity: identity, authority: authority) }
            }
            try OutputFolders.checkUsable(output)
            // The output name comes from each envelope's header, so items map to folders.
            let items = try BatchPlan.items(for: inputs, outputDirectory: output, allowSharedOutput: true) {
                PathText.directory(of: $0)
            }
            let bar = ProgressBar(verb: "opening")
            let interruption = Interruption()
            let folders = OutputFolders()
            let start = Date()
            let force = force
            let results = BatchRunner.run(items, jobs: batch.jobs, stopped: { interruption.stopped || unlocking.hasFailed }, work: { item in
                do {
                    let target = try OutputPath.inside(item.output, name: try EnvelopeFiles.peekHeader(item.input).name)
                    if !force, FileManager.default.fileExists(atPath: target) { return .skipped(.outputExists(target)) }
                    try folders.prepare(item.output)
                    let opened = try EnvelopeFiles.open(item.input, identity: identity, authority: authority, replace: force,
                                                        folder: item.output) { header in
                        try OutputPath.inside(item.output, name: header.name)
                    }
                    return .done(output: try OutputPath.inside(item.output, name: opened.header.name), bytes: opened.payloadLength)
                } catch {
                    return .failed(error)
                }
            }, progress: bar.update)
            bar.finish()
            folders.removeEmpty()
            // A key that did not unlock (a wrong passphrase) failed every envelope: said once.
            try unlocking.throwIfFailed()
            detail("batch keys unwrapped: \(identity.batchUnwraps) (FORMAT.md §5.1; envelopes with their own key are not counted)")
            try BatchReport.finish(results, verb: "opened", seconds: Date().timeIntervalSince(start), json: batch.json,
                                   interruption: interruption)
        }

        /// Runs `body`; if the key failed to unlock meanwhile, that failure is the error, named
        /// after the key file rather than the envelope it stopped.
        private func tellingAFailedUnlock(_ unlocking: UnlockingIdentity, _ body: () throws -> Void) throws {
            do { try body() } catch {
                try unlocking.throwIfFailed()
                throw error
            }
        }

        /// One envelope from standard input or to standard output. Either way it is verified
        /// completely first; standard output then receives each chunk once its tag is checked.
        private func openOne(_ input: String, identity: any Identity, authority: Certificate) throws {
            var source = try StandardStreams.envelope(input)
            if output == StandardStreams.dash {
                try StandardStreams.checkBinaryOutput("image bytes", suggestion: "redirect it to a file or a pipe, or open into a folder with -o DIR")
                var sink = StreamSink.standardOutput
                _ = try about(source.path) { try EnvelopeFiles.open(&source, to: &sink, identity: identity, authority: authority) }
                return
            }
            try about(output) { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
            let opened = try about(source.path) {
                try EnvelopeFiles.open(&source, identity: identity, authority: authority, replace: force, folder: output) { header in
                    let target = try OutputPath.inside(output, name: header.name)
                    if !force, FileManager.default.fileExists(atPath: target) { throw AtomicFile.Failure.exists(target) }
                    return target
                }
            }
            say("opened \(source.path) (\(BatchReport.formatSize(opened.payloadLength))) into \(try OutputPath.inside(output, name: opened.header.name))")
        }
    }
}
