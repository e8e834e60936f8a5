import ArgumentParser
import DropProtocol
import Foundation
import Logging
import SealClient
import SealGallery

extension Sealdrop {
    struct Gallery: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "gallery",
            abstract: "Open your profile as a web page on this machine: a live feed, images opened and verified, posting.",
            discussion: """
                Serves the profile on loopback and prints its address, which carries a random token \
                for this run (the first visit trades it for a cookie): only whoever has the address \
                can use it. Images are fetched, verified and decrypted by this process, which keeps \
                your key; the page is only shown the result. Stop it with Ctrl-C.

                Examples:
                  sealdrop gallery
                  sealdrop gallery --listen 127.0.0.1:8765 --open
                """)

        @Option(help: ArgumentHelp("Address and port to listen on (port 0: any free port).", valueName: "host:port"))
        var listen: String = "127.0.0.1:0"

        @Flag(help: "Listen on an address other machines can reach (the token is then all that protects the gallery).")
        var listenAnywhere = false

        @Flag(help: "Open the address in the desktop's browser (xdg-open).")
        var open = false

        @OptionGroup var profileHome: HomeOptions
        @OptionGroup var passphrase: PassphraseOptions

        @OptionGroup var verbosity: VerbosityOptions

        func validate() throws {
            guard let address = ListenAddress(listen) else {
                throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:8765 or [::1]:8765")
            }
            if !address.isLoopback && !listenAnywhere {
                throw ValidationError("\(address.host) is not a loopback address: others could reach the gallery; add --listen-anywhere if you mean it")
            }
        }

        func perform() throws {
            let address = ListenAddress(listen)!
            if !address.isLoopback {
                FileHandle.standardError.write(Data("sealdrop: warning: the gallery listens on \(address.host), reachable from other machines, over plain HTTP\n".utf8))
            }
            let profile = try Profile.load(home: profileHome.path)
            _ = try about(profile.certificatePath) { try profile.certificate() }
            let key = try passphrase.privateKey(at: profile.keyPath)
            let logger = LineLogHandler.logger("gallery", format: .text)
            let gallery = try about(profile.home) { try SealGallery.Gallery(profile: profile, key: key, logger: logger) }
            defer { gallery.close() }
            let open = self.open
            let application = gallery.application(host: address.host, port: address.port) { bound in
                let url = gallery.address(host: address.host, port: bound)
                print("gallery on \(url)")
                fflush(nil)
                if open { Self.openInBrowser(url) }
            }
            try blocking { try await application.runService() }
        }

        static func openInBrowser(_ url: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["xdg-open", url]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            do {
                try process.run()
            } catch {
                FileHandle.standardError.write(Data("sealdrop: warning: could not start a browser (xdg-open); open the address yourself\n".utf8))
            }
        }
    }
}
