import Foundation
import ArgumentParser
import GcryptKit
import SealPKI

extension Sealdrop {
    struct Keygen: Reporting {
        static let configuration = CommandConfiguration(
            abstract: "Generate an RSA key pair: BASE.key (encrypted, mode 0600) and BASE.pub.",
            discussion: """
                An existing BASE.key or BASE.pub is never replaced: move it away first if you \
                really mean to discard that key.

                Example: sealdrop keygen --out ~/keys/alice --bits 3072
                """)

        @Option(name: .long, help: ArgumentHelp("Base path of the key files.", valueName: "base"))
        var out: String

        @Option(help: "Key size in bits: 2048, 3072 or 4096.")
        var bits: Int = RSA.KeySize.default.rawValue

        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard RSA.KeySize(rawValue: bits) != nil else {
                throw ValidationError("--bits must be 2048, 3072 or 4096 (got \(bits))")
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let keyPath = KeyFile.privatePath(out)
            for path in [keyPath, KeyFile.publicPath(out)] where FileManager.default.fileExists(atPath: path) {
                throw FileFailure(path: path, underlying: KeyFile.Exists(path: path))
            }
            let secret = try passphrase.new(for: keyPath)
            let key = try RSA.PrivateKey.generate(size: RSA.KeySize(rawValue: bits)!)
            try about(keyPath) { try KeyFile.write(key, base: out, passphrase: secret) }
            say("wrote \(keyPath) (encrypted, mode 0600) and \(KeyFile.publicPath(out))")
            say("key   RSA \(bits) bits")
            say("fingerprint \(key.publicKey.fingerprint)")
        }
    }
}
