import ArgumentParser
import Foundation
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Open: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Verify and decrypt envelopes (files or folders) addressed to your key.",
            discussion: """
                Checks the sender's certificate against the CA, the signature, and every chunk's MAC \
                before releasing a byte; the output file (named after the envelope's image name) \
                appears only when all checks pass.
                """)

        @Argument(help: ArgumentHelp("Envelopes or folders of envelopes.", valueName: "envelope-or-dir"))
        var inputs: [String]

        @Option(help: ArgumentHelp("Your private key (BASE.key).", valueName: "file"))
        var key: String

        @Option(help: ArgumentHelp("The CA certificate that senders' certificates must chain to.", valueName: "file"))
        var ca: String

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output folder.", valueName: "dir"))
        var output: String


        @Flag(help: "Replace existing outputs.")
        var force = false

        @OptionGroup var batch: BatchOptions

        @OptionGroup var passphrase: PassphraseOptions

        func perform() throws {
            let authority = try about(ca) { try Certificate(pem: KeyFile.readText(ca)) }
            guard authority.extensions.isCA == true, authority.isSelfSigned else {
                throw FileFailure(path: ca, underlying: PKIError.certificateRejected("not a self-signed CA certificate"))
            }
            let secret = try passphrase.existing(for: key)
            let identity = RSAIdentity(key: try about(key) { try KeyFile.readPrivateKey(at: key, passphrase: secret) })
            // The output name comes from each envelope's header, so items map to folders.
            let items = try BatchPlan.items(for: inputs, outputDirectory: output, allowSharedOutput: true) {
                PathText.directory(of: $0)
            }
            let bar = ProgressBar(verb: "opening")
            let start = Date()
            let force = force
            let results = BatchRunner.run(items, jobs: batch.jobs, work: { item in
                do {
                    let target = try OutputPath.inside(item.output, name: try EnvelopeFiles.peekHeader(item.input).name)
                    if !force, FileManager.default.fileExists(atPath: target) { return .skipped(.outputExists(target)) }
                    try FileManager.default.createDirectory(atPath: item.output, withIntermediateDirectories: true)
                    let opened = try EnvelopeFiles.open(item.input, identity: identity, authority: authority, replace: force) { header in
                        try OutputPath.inside(item.output, name: header.name)
                    }
                    return .done(output: try OutputPath.inside(item.output, name: opened.header.name), bytes: opened.payloadLength)
                } catch {
                    return .failed(error)
                }
            }, progress: bar.update)
            bar.finish()
            guard BatchReport.print(results, verb: "opened", seconds: Date().timeIntervalSince(start), json: batch.json) else {
                throw ExitCode.failure
            }
        }
    }
}
