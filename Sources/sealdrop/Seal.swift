import ArgumentParser
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Seal: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "seal",
            abstract: "Sign and encrypt images (files or whole folders) into envelopes.",
            discussion: """
                Folders are walked recursively and mirrored under the output folder as NAME.seal. \
                An existing output is skipped unless --force, so an interrupted batch resumes. \
                Files in folders that are not images are skipped; named files must be images.

                Examples:
                  sealdrop seal photos/ --to bob.crt --key alice.key -o sealed/ --batch-sign
                  cat cat.png | sealdrop seal - --to bob.crt --key alice.key -o - --armor
                """)

        @Argument(help: ArgumentHelp("Images or folders of images; - reads one image from standard input.", valueName: "image-or-dir"))
        var inputs: [String]

        @Option(help: ArgumentHelp("The recipient's certificate (for the server: ROOT/encryption.crt).", valueName: "file"))
        var to: String

        @Option(name: [.long, .customLong("sign")], help: ArgumentHelp("The owner's private key (BASE.key).", valueName: "file"))
        var key: String

        @Option(help: ArgumentHelp("The owner's certificate (default: BASE.crt beside the key).", valueName: "file"))
        var cert: String?

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder; - writes the envelope to standard output.", valueName: "dir"))
        var output: String

        @Option(help: ArgumentHelp("The image name (one image only; default: its file name, or stdin.EXT for -).", valueName: "name"))
        var name: String?

        @Flag(help: "Write ASCII armour (-----BEGIN SEALDROP ENVELOPE-----) instead of binary.")
        var armor = false

        @Option(help: "Cipher suite: cbc-hmac or gcm.")
        var suite: String = Suite.cbcHMAC.description

        @Option(help: ArgumentHelp("Plaintext bytes per chunk: a power of two from 64k to 16m.", valueName: "size"))
        var chunkSize: String = "1m"


        @Flag(help: "Replace existing outputs.")
        var force = false

        @Flag(help: ArgumentHelp("Sign each group of up to 256 envelopes once, over a Merkle root; each still verifies alone."))
        var batchSign = false

        @Flag(help: ArgumentHelp("Wrap one batch key for the whole run instead of a key per file: one RSA operation here and at the recipient (FORMAT.md §5.1)."))
        var batchWrap = false

        @OptionGroup var batch: BatchOptions

        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard Suite(name: suite) != nil else { throw ValidationError("--suite must be cbc-hmac or gcm (got \(suite))") }
            _ = try parsedChunkSize()
            try StandardStreams.validate(inputs: inputs, output: output, outputHolds: "envelope")
            if name != nil, inputs.count != 1 { throw ValidationError("--name needs exactly one image") }
            try ImageNameOption.validate(name)
            if passphrase.readsStandardInput, inputs.contains(StandardStreams.dash) {
                throw ValidationError("standard input holds the image (-): read the passphrase from another file or descriptor")
            }
        }

        /// The images' bytes from which the unlock runs on one core: about 0.2 s of chunk work
        /// on two, against the unlock's 0.12 s on one.
        static let busyBytes = 256 << 20

        /// The bytes of the images among `inputs` that are regular files (folders are not
        /// walked for this).
        static func imageBytes(_ inputs: [String]) -> Int {
            inputs.reduce(0) { total, path in
                var info = stat()
                guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return total }
                return total + Int(info.st_size)
            }
        }

        func parsedChunkSize() throws -> Int {
            guard let value = ByteSize.parse(chunkSize), value >= 1 << 16, value <= 1 << 24, value & (value - 1) == 0 else {
                throw ValidationError("--chunk-size must be a power of two from 64k to 16m (got \(chunkSize))")
            }
            return value
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let recipient = try about(to) { try Certificate(pem: KeyFile.readText(to)) }
            try about(to) { try Credentials.checkRecipient(recipient) }
            // The key first: a wrong --key is named as itself, not as its missing certificate.
            // Beside large images sealed into files, which keep every core busy until long
            // after it ends, the unlock takes one core, where it costs the least CPU in all;
            // standard output waits for it, on every core.
            let besideBusyCores = output != StandardStreams.dash && Self.imageBytes(inputs) >= Self.busyBytes
            let unlocking = try passphrase.startUnlocking(at: key, cores: besideBusyCores ? 1 : nil)
            // Images are sealed into files while the key is unlocked: the signature at the end
            // of each waits for it, and a failed unlock stops the batch and is told once.
            // Standard output, which would get a partial envelope, waits for the key.
            let unlockedKey = output == StandardStreams.dash ? try unlocking.value() : nil
            let certificatePath = cert ?? Credentials.certificatePath(forKey: key)
            let ownerCertificate = try about(certificatePath) { try Certificate(pem: KeyFile.readText(certificatePath)) }
            let unlockingKey: UnlockingKey?
            let ownerKey: any RSA.PrivateOperations
            if let unlockedKey {
                (unlockingKey, ownerKey) = (nil, unlockedKey)
            } else {
                let pending = UnlockingKey(unlocking, certificate: ownerCertificate, certificatePath: certificatePath)
                (unlockingKey, ownerKey) = (pending, pending)
            }
            let keyFailed: @Sendable () -> Bool = { unlockingKey?.hasFailed ?? false }
            let signer = try about(certificatePath) { try RSASigner(key: ownerKey, certificate: ownerCertificate) }
            detail("signing as \(ownerCertificate.subject) (\(key), \(certificatePath)); sealing to \(recipient.subject) (\(to))")
            var configured = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: recipient.publicKey),
                                            suite: Suite(name: suite)!, chunkSize: try parsedChunkSize())
            if batchWrap { configured.batchKey = try BatchKey(recipient: configured.recipient, sender: ownerCertificate) }
            let sealer = configured
            if inputs == [StandardStreams.dash] {
                var input = StreamSource.standardInput
                let head = try input.read(upTo: 1 << 16)
                guard let media = MediaType.detect(head) else {
                    throw FileFailure(path: input.label, underlying: EnvelopeError.unrecognisedMedia)
                }
                var source = PrefixedSource(prefix: head, base: input)
                return try sealOne(&source, label: input.label, name: name ?? "stdin.\(MediaType.fileExtension(of: media.name) ?? "img")",
                                   sealer: sealer)
            }
            if output == StandardStreams.dash {
                var source = try about(inputs[0]) { try FileSource(path: inputs[0]) }
                return try sealOne(&source, label: inputs[0], name: name ?? PathText.lastComponent(of: inputs[0]), sealer: sealer)
            }

            try OutputFolders.checkUsable(output)
            let items = try BatchPlan.items(for: inputs, outputDirectory: output) { $0 + ".seal" }
            try ImageNameOption.check(name, items: items, input: inputs[0])
            let bar = ProgressBar(verb: "sealing")
            let interruption = Interruption()
            let folders = OutputFolders()
            let start = Date()
            let force = force
            let armor = armor
            let fixedName = name
            // Without --batch-sign each file is sealed and signed alone; with it, files are
            // sealed up to their trailers and each group of `SignedBatchRunner.groupSize` shares one signature.
            // An existing output is kept (a resumed batch); otherwise its folder is made.
            @Sendable func skipOrPrepare(_ item: BatchItem) throws -> BatchOutcome? {
                if !force, FileManager.default.fileExists(atPath: item.output) { return .skipped(.outputExists(item.output)) }
                try folders.prepare(PathText.directory(of: item.output))
                return nil
            }
            let results: [BatchResult]
            if batchSign {
                let signer = BatchSigner(sealer: sealer)
                results = SignedBatchRunner.run(
                    items, groupSize: SignedBatchRunner.groupSize, jobs: batch.jobs, signer: signer, replace: force,
                    stopped: { interruption.stopped || keyFailed() },
                    prepare: { item in
                        do {
                            if let skipped = try skipOrPrepare(item) { return .settled(skipped) }
                            return .sealed(try signer.prepare(item.input, to: item.output, name: fixedName, armor: armor))
                        } catch {
                            return .settled(BatchOutcome(error: error, item: item))
                        }
                    },
                    deliver: { group in group.map { .done(output: $0.item.output, bytes: $0.envelope.summary.payloadLength) } },
                    progress: bar.update)
            } else {
                results = BatchRunner.run(items, jobs: batch.jobs, stopped: { interruption.stopped || keyFailed() }, work: { item in
                    do {
                        if let skipped = try skipOrPrepare(item) { return skipped }
                        let summary = try EnvelopeFiles.seal(item.input, to: item.output, with: sealer, name: fixedName,
                                                             replace: force, armor: armor)
                        return .done(output: item.output, bytes: summary.payloadLength)
                    } catch {
                        return BatchOutcome(error: error, item: item)
                    }
                }, progress: bar.update)
            }
            bar.finish()
            folders.removeEmpty()
            // A key that did not unlock (a wrong passphrase), or that is not the certificate's,
            // failed every file: said once.
            try unlockingKey?.throwIfFailed()
            try BatchReport.finish(results, verb: "sealed", seconds: Date().timeIntervalSince(start), json: batch.json,
                                   interruption: interruption)
        }

        /// One image from a stream or to one: standard output gets the envelope as it is
        /// sealed; a folder gets NAME.seal, complete or not at all.
        private func sealOne(_ source: inout some ByteSource, label: String, name: String, sealer: EnvelopeSealer) throws {
            if output == StandardStreams.dash {
                if armor {
                    var sink = ArmoredSink(StreamSink.standardOutput)
                    _ = try about(label) { try sealer.seal(from: &source, to: &sink, name: name) }
                    try sink.finish()
                } else {
                    try StandardStreams.checkBinaryOutput("a binary envelope", suggestion: "redirect it to a file or a pipe, or add --armor")
                    var sink = StreamSink.standardOutput
                    _ = try about(label) { try sealer.seal(from: &source, to: &sink, name: name) }
                }
                return
            }
            let target = PathText.join(output, name + ".seal")
            if !force, FileManager.default.fileExists(atPath: target) { throw AtomicFile.Failure.exists(target) }
            try about(output) { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
            let summary = try about(label) {
                try EnvelopeFiles.seal(from: &source, to: target, with: sealer, name: name, replace: force, armor: armor)
            }
            say("sealed \(label) (\(BatchReport.formatSize(summary.payloadLength))) into \(target)")
        }
    }
}

/// Loading what seal and open need.
enum Credentials {
    /// BASE.crt beside BASE.key.
    static func certificatePath(forKey key: String) -> String {
        (key.hasSuffix(".key") ? String(key.dropLast(4)) : key) + ".crt"
    }

    /// The recipient certificate must be current and allow key encipherment.
    static func checkRecipient(_ certificate: Certificate, now: Date = Date()) throws {
        guard certificate.extensions.keyUsage?.contains(.keyEncipherment) ?? false else {
            throw PKIError.certificateRejected("it does not allow key encipherment (is it the server's encryption.crt?)")
        }
        guard now >= certificate.notBefore, now <= certificate.notAfter else {
            throw PKIError.certificateRejected("it is not valid now (\(iso8601(certificate.notBefore)) to \(iso8601(certificate.notAfter)))")
        }
    }
}
