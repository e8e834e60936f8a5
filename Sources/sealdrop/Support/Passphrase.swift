import ArgumentParser
import Foundation
import GcryptKit
import SealClient

/// Where a passphrase comes from, in order: `--passphrase-file`, `SEALDROP_PASSPHRASE`
/// (for cron), a no-echo prompt on the terminal. Never a command-line argument.
struct PassphraseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the passphrase from the first line of this file.", valueName: "file"))
    var passphraseFile: String?

    static let environmentVariable = "SEALDROP_PASSPHRASE"

    /// The passphrase for an existing key.
    func existing(for what: String) throws -> SecretBytes {
        try obtain(prompt: "Passphrase for \(what): ", confirm: false)
    }

    /// A passphrase for a key about to be written: asked twice on a terminal, never empty.
    func new(for what: String) throws -> SecretBytes {
        let passphrase = try obtain(prompt: "New passphrase for \(what): ", confirm: true)
        guard passphrase.count > 0 else {
            throw UsageFailure(message: "the passphrase is empty", hint: "sealdrop never writes a private key unprotected")
        }
        return passphrase
    }

    private func obtain(prompt: String, confirm: Bool) throws -> SecretBytes {
        if let passphraseFile {
            let text = try about(passphraseFile) { try readFirstLine(passphraseFile) }
            return SecretBytes(Array(text.utf8))
        }
        if let value = ProcessInfo.processInfo.environment[Self.environmentVariable] {
            return SecretBytes(Array(value.utf8))
        }
        guard let first = Terminal.readSecret(prompt: prompt) else {
            throw UsageFailure(
                message: "no passphrase: no terminal to ask on",
                hint: "set \(Self.environmentVariable) or pass --passphrase-file FILE")
        }
        if confirm {
            guard let second = Terminal.readSecret(prompt: "Repeat the passphrase: "), second == first else {
                throw UsageFailure(message: "the two passphrases differ", hint: "run the command again")
            }
        }
        return SecretBytes(Array(first.utf8))
    }

    private func readFirstLine(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw UsageFailure(message: "\(path): cannot read the passphrase file", hint: "check the path and its permissions")
        }
        let text = String(decoding: data, as: UTF8.self)
        return String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            .trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
    }
}

/// Which profile a client command uses.
struct HomeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The profile folder (default: $SEALDROP_HOME, else ~/.sealdrop).", valueName: "dir"))
    var home: String?

    var path: String { home ?? Profile.defaultHome() }
}
