import ArgumentParser
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Seal: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Sign and encrypt images (files or whole folders) into envelopes.",
            discussion: """
                Folders are walked recursively and mirrored under the output folder as NAME.seal. \
                An existing output is skipped unless --force, so an interrupted batch resumes. \
                Files in folders that are not images are skipped; named files must be images.
                """)

        @Argument(help: ArgumentHelp("Images or folders of images.", valueName: "image-or-dir"))
        var inputs: [String]

        @Option(help: ArgumentHelp("The recipient's certificate (for the server: ROOT/encryption.crt).", valueName: "file"))
        var to: String

        @Option(name: [.long, .customLong("sign")], help: ArgumentHelp("The owner's private key (BASE.key).", valueName: "file"))
        var key: String

        @Option(help: ArgumentHelp("The owner's certificate (default: BASE.crt beside the key).", valueName: "file"))
        var cert: String?

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder.", valueName: "dir"))
        var output: String

        @Option(help: "Cipher suite: cbc-hmac or gcm.")
        var suite: String = Suite.cbcHMAC.description

        @Option(help: ArgumentHelp("Plaintext bytes per chunk: a power of two from 64k to 16m.", valueName: "size"))
        var chunkSize: String = "1m"


        @Flag(help: "Replace existing outputs.")
        var force = false

        @Flag(help: ArgumentHelp("Sign each group of up to 256 envelopes once, over a Merkle root; each still verifies alone."))
        var batchSign = false

        static let batchGroupSize = 256

        @OptionGroup var batch: BatchOptions

        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard Suite(name: suite) != nil else { throw ValidationError("--suite must be cbc-hmac or gcm (got \(suite))") }
            _ = try parsedChunkSize()
        }

        func parsedChunkSize() throws -> Int {
            guard let value = ByteSize.parse(chunkSize), value >= 1 << 16, value <= 1 << 24, value & (value - 1) == 0 else {
                throw ValidationError("--chunk-size must be a power of two from 64k to 16m (got \(chunkSize))")
            }
            return value
        }

        func perform() throws {
            let recipient = try about(to) { try Certificate(pem: KeyFile.readText(to)) }
            try about(to) { try Credentials.checkRecipient(recipient) }
            let certificatePath = cert ?? Credentials.certificatePath(forKey: key)
            let ownerCertificate = try about(certificatePath) { try Certificate(pem: KeyFile.readText(certificatePath)) }
            let secret = try passphrase.existing(for: key)
            let ownerKey = try about(key) { try KeyFile.readPrivateKey(at: key, passphrase: secret) }
            let signer = try about(certificatePath) { try RSASigner(key: ownerKey, certificate: ownerCertificate) }
            let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: recipient.publicKey),
                                        suite: Suite(name: suite)!, chunkSize: try parsedChunkSize())

            let items = try BatchPlan.items(for: inputs, outputDirectory: output) { $0 + ".seal" }
            let bar = ProgressBar(verb: "sealing")
            let start = Date()
            let force = force
            // Without --batch-sign each file is sealed and signed alone; with it, files are
            // sealed up to their trailers and each group of `batchGroupSize` shares one signature.
            let batchSigner = BatchSigner(sealer: sealer)
            var results: [BatchResult] = []
            let groupSize = batchSign ? Self.batchGroupSize : max(1, items.count)
            for group in stride(from: 0, to: items.count, by: groupSize) {
                let slice = Array(items[group..<min(items.count, group + groupSize)])
                let pending = PendingList()
                var groupResults = BatchRunner.run(slice, jobs: batch.jobs, work: { item in
                    if !force, FileManager.default.fileExists(atPath: item.output) { return .skipped(.outputExists(item.output)) }
                    do {
                        try FileManager.default.createDirectory(
                            atPath: PathText.directory(of: item.output), withIntermediateDirectories: true)
                        if batchSign {
                            let prepared = try batchSigner.prepare(item.input, to: item.output)
                            pending.add(item.output, prepared)
                            return .done(output: item.output, bytes: prepared.summary.payloadLength)
                        }
                        let summary = try EnvelopeFiles.seal(item.input, to: item.output, with: sealer, replace: force)
                        return .done(output: item.output, bytes: summary.payloadLength)
                    } catch EnvelopeError.unrecognisedMedia where item.discovered {
                        return .skipped(.notAnImage)
                    } catch {
                        return .failed(error)
                    }
                }, progress: bar.update)
                if batchSign {
                    do {
                        try batchSigner.finish(pending.inOrder(of: slice), replace: force)
                    } catch {
                        groupResults = groupResults.map { result in
                            guard case .done = result.outcome else { return result }
                            return BatchResult(item: result.item, outcome: .failed(error), seconds: result.seconds)
                        }
                    }
                }
                results += groupResults
            }
            bar.finish()
            guard BatchReport.print(results, verb: "sealed", seconds: Date().timeIntervalSince(start), json: batch.json) else {
                throw ExitCode.failure
            }
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

/// Envelopes prepared by the batch's workers, awaiting their shared signature.
final class PendingList: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var byOutput: [String: BatchSigner.Pending] = [:]

    func add(_ output: String, _ pending: BatchSigner.Pending) { lock.withLock { byOutput[output] = pending } }

    /// The prepared envelopes in the order of `items` (the leaf order of the tree).
    func inOrder(of items: [BatchItem]) -> [BatchSigner.Pending] {
        lock.withLock { items.compactMap { byOutput[$0.output] } }
    }
}
