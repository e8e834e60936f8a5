import ArgumentParser
import Foundation
import SealClient
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Post: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Seal images to the server and drop them into its inbox (or send them to its gateway).",
            discussion: """
                Image names follow the envelope rules (docs/FORMAT.md §2): 1 to 255 bytes of UTF-8, \
                no '/', '\\\\' or control characters, not '.' or '..'. The name defaults to the file \
                name; a name another user already holds is refused by the server.
                """)

        @Argument(help: ArgumentHelp("Images or folders of images.", valueName: "image-or-dir"))
        var inputs: [String]

        @Option(help: "The image name (one image only; default: its file name).")
        var name: String?

        @Option(help: "Cipher suite: cbc-hmac or gcm.")
        var suite: String = Suite.cbcHMAC.description


        @OptionGroup var batch: BatchOptions

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard Suite(name: suite) != nil else { throw ValidationError("--suite must be cbc-hmac or gcm (got \(suite))") }
            if name != nil, inputs.count != 1 { throw ValidationError("--name needs exactly one image") }
            if let name { try EnvelopeHeader.validate(name: name) }
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
            guard BatchReport.print(results, verb: "posted", seconds: Date().timeIntervalSince(start), json: batch.json) else {
                throw ExitCode.failure
            }
        }
    }
}
