import ArgumentParser
import DropProtocol
import Foundation
import SealClient
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Fetch: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "fetch",
            abstract: "Fetch images by name: signed request, wait for the answer, verify, decrypt.",
            discussion: """
                Nothing is written until the server's statement, the owner's certificate and \
                signature, and every MAC have verified; the file then appears under its final name. \
                With one NAME, -o may name the file; otherwise -o is a folder (default: here). \
                An image whose file exists already is skipped (a resumed batch), unless --force.

                Examples:
                  sealdrop fetch cat.png
                  sealdrop fetch cat.png -o ~/Pictures/cat.png
                  sealdrop fetch --all -o gallery/   # run again to resume
                """)

        @Argument(help: "Image names.")
        var names: [String] = []

        @Flag(help: "Fetch every image the notification log lists.")
        var all = false

        @Option(name: [.customShort("o"), .long], help: ArgumentHelp("Output file (one name) or folder; - writes one image to standard output.", valueName: "path"))
        var output: String = "."

        @Option(help: "Seconds to wait for each answer.")
        var timeout: Double = 60


        @Flag(help: "Replace existing files.")
        var force = false

        @OptionGroup var batch: BatchOptions

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard all || !names.isEmpty else { throw ValidationError("name at least one image, or pass --all") }
            guard !(all && !names.isEmpty) else { throw ValidationError("--all takes no names") }
            if output == StandardStreams.dash, all || names.count != 1 {
                throw ValidationError("-o - writes one image to standard output: name exactly one")
            }
        }

        /// One image to standard output, written once the whole envelope verified; what was
        /// fetched is said on standard error, which is not the data.
        private func fetchToStandardOutput(_ wanted: [String], fetcher: Fetcher) throws {
            try StandardStreams.checkBinaryOutput("image bytes", suggestion: "redirect it to a file or a pipe, or give -o FILE")
            let name = wanted[0]
            let id = try fetcher.request(name)
            let result = try about(name) { try fetcher.receive(id, image: name, into: .stream(.standardOutput), timeout: timeout) }
            if Verbosity.current != .quiet {
                FileHandle.standardError.write(Data(
                    "\"\(LogText.escaped(result.image))\" posted by \(result.owner) on \(iso8601(result.created)), verified\n".utf8))
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let profile = try Profile.load(home: profileHome.path)
            detail("profile \(profile.home): \(profile.settings.user) on \(profile.settings.server)")
            let secret = try passphrase.profileSecret(profile)
            let fetcher = try about(profile.keyPath) { try Fetcher(profile: profile, secret: secret) }
            var wanted = names
            if all {
                let index = ImageIndex(profile: profile)
                wanted = try about(index.path) { try index.images(from: fetcher.feed()).map(\.name) }
            }
            if output == StandardStreams.dash { return try fetchToStandardOutput(wanted, fetcher: fetcher) }
            var isDirectory: ObjCBool = false
            let toFile = wanted.count == 1 && !(FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) && isDirectory.boolValue)
                && !output.hasSuffix("/") && output != "."
            let folders = OutputFolders()
            try about(toFile ? PathText.directory(of: output) : output) {
                try folders.prepare(toFile ? PathText.directory(of: output) : output)
            }
            let items = try wanted.map { name in
                BatchItem(input: name, output: toFile ? output : try about(name) { try OutputPath.inside(output, name: name) },
                          discovered: false)
            }
            let timeout = timeout, force = force
            let bar = ProgressBar(verb: "fetching")
            let interruption = Interruption()
            let start = Date()
            let delivered = Locked([Fetcher.Delivered]())
            // Requests first (each is one RSA signature), then the answers, on every core.
            let results = BatchRunner.run(items, jobs: batch.jobs, stopped: { interruption.stopped }, work: { item in
                // Fetched already (a resumed batch): kept as it is.
                if !force, FileManager.default.fileExists(atPath: item.output) { return .skipped(.outputExists(item.output)) }
                do {
                    let id = try fetcher.request(item.input)
                    let result = try fetcher.receive(id, image: item.input, to: item.output, timeout: timeout, replace: force)
                    delivered.withLock { $0.append(result) }
                    return .done(output: item.output, bytes: result.bytes)
                } catch {
                    return .failed(error)
                }
            }, progress: bar.update)
            bar.finish()
            folders.removeEmpty()
            if !batch.json {
                for result in delivered.withLock({ $0 }).sorted(by: { $0.image < $1.image }) {
                    say("\(result.output): \"\(result.image)\" posted by \(result.owner) on \(iso8601(result.created)), verified")
                }
            }
            try BatchReport.finish(results, verb: "fetched", seconds: Date().timeIntervalSince(start), json: batch.json,
                                   interruption: interruption)
        }
    }
}
