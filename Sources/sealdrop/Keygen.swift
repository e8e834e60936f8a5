import Foundation
import ArgumentParser
import GcryptKit
import SealPKI
import SealToken

extension Sealdrop {
    struct Keygen: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Generate an RSA key pair: BASE.key (encrypted, mode 0600) and BASE.pub.",
            discussion: """
                An existing BASE.key or BASE.pub is never replaced: move it away first if you \
                really mean to discard that key.

                With --pkcs11-module and --pkcs11-token the key is made on the token (sensitive, never \
                extractable, labelled with BASE's file name) and BASE.pkcs11 records its PKCS#11 URI in \
                place of BASE.key: give BASE.key to request, seal and open as for a key file, and the \
                token's PIN (--pin-file, SEALDROP_PIN) instead of a passphrase.

                Examples:
                  sealdrop keygen --out ~/keys/alice --bits 3072
                  sealdrop keygen --out ~/keys/alice --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token alice
                """)

        @Option(name: .long, help: ArgumentHelp("Base path of the key files.", valueName: "base"))
        var out: String

        @Option(help: "Key size in bits: 2048, 3072 or 4096.")
        var bits: Int = RSA.KeySize.default.rawValue

        @OptionGroup var token: TokenOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard RSA.KeySize(rawValue: bits) != nil else {
                throw ValidationError("--bits must be 2048, 3072 or 4096 (got \(bits))")
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let keyPath = KeyFile.privatePath(out)
            let reference = StoredKey.referencePath(forKeyAt: keyPath)
            for path in [keyPath, reference, KeyFile.publicPath(out)] where FileManager.default.fileExists(atPath: path) {
                throw FileFailure(path: path, underlying: KeyFile.Exists(path: path))
            }
            let size = RSA.KeySize(rawValue: bits)!
            let key: any RSA.PrivateOperations
            switch try token.home(passphrase, newKeysFor: keyPath) {
            case .files(let secret):
                let made = try RSA.PrivateKey.generate(size: size)
                try about(keyPath) { try KeyFile.write(made, base: out, passphrase: secret) }
                key = made
                say("wrote \(keyPath) (encrypted, mode 0600) and \(KeyFile.publicPath(out))")
            case .token(let onToken):
                let label = out.split(separator: "/").last.map(String.init) ?? out
                let made = try KeyHome.token(onToken).newKey(at: keyPath, label: label, usage: .signAndDecrypt, size: size, publicFile: true)
                do {
                    try about(reference) { try AtomicFile.write(made.files) }
                } catch {
                    KeyHome.discard(made.key)
                    throw error
                }
                key = made.key
                say("made the key on token \"\(onToken.label)\" (sensitive, never extractable)")
                say("wrote \(reference) (its PKCS#11 URI) and \(KeyFile.publicPath(out))")
            }
            say("key   RSA \(bits) bits")
            say("fingerprint \(key.publicKey.fingerprint)")
        }
    }
}
