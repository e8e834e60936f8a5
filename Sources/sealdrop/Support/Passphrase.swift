import ArgumentParser
import Foundation
import GcryptKit
import SealClient

/// Where a passphrase comes from, in order: `--passphrase-fd`, `--passphrase-file`,
/// `SEALDROP_PASSPHRASE` (for cron), a no-echo prompt on the terminal. Never a command-line
/// argument. Only the first line counts, without its LF or CRLF.
struct PassphraseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the passphrase from the first line of this file (/dev/stdin and <(...) work).", valueName: "file"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp("Read the passphrase from the first line of this open file descriptor.", valueName: "n"))
    var passphraseFd: Int32?

    func validate() throws {
        if passphraseFd != nil, passphraseFile != nil { throw ValidationError("give --passphrase-fd or --passphrase-file, not both") }
        if let passphraseFd, passphraseFd < 0 { throw ValidationError("--passphrase-fd must be a descriptor number (0 or more)") }
    }

    /// True when the passphrase would be read from standard input.
    var readsStandardInput: Bool {
        passphraseFd == STDIN_FILENO || ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"].contains(passphraseFile ?? "")
    }

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
        if let passphraseFd {
            return try Self.firstLine(of: passphraseFd, label: "descriptor \(passphraseFd) (--passphrase-fd)")
        }
        if let passphraseFile {
            let fd = open(passphraseFile, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw UsageFailure(message: "\(passphraseFile): cannot read the passphrase file: \(String(cString: strerror(errno)))",
                                   hint: "check the path and its permissions")
            }
            defer { close(fd) }
            return try Self.firstLine(of: fd, label: passphraseFile)
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

    /// The first line read from `fd`, byte by byte so that nothing after it is consumed (a
    /// pipe shared with other input), without its LF or CRLF; at most 4 KiB.
    static func firstLine(of fd: Int32, label: String) throws -> SecretBytes {
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let n = read(fd, &byte, 1)
            if n < 0 {
                if errno == EINTR { continue }
                throw UsageFailure(message: "\(label): cannot read the passphrase: \(String(cString: strerror(errno)))",
                                   hint: "pass an open, readable descriptor or file")
            }
            if n == 0 || byte == UInt8(ascii: "\n") { break }
            line.append(byte)
            guard line.count <= 4096 else {
                throw UsageFailure(message: "\(label): the first line is longer than 4096 bytes", hint: "is it really a passphrase file?")
            }
        }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        return SecretBytes(line)
    }
}

/// Which profile a client command uses.
struct HomeOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The profile folder (default: $SEALDROP_HOME, else ~/.sealdrop).", valueName: "dir"))
    var home: String?

    var path: String { home ?? Profile.defaultHome() }
}
