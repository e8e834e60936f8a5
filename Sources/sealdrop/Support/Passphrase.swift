import ArgumentParser
import Foundation
import GcryptKit
import DropProtocol
import SealClient
import SealPKI
import SealEnvelope
import SealServer
import SealToken

/// Where a passphrase comes from, in order: `--passphrase-fd`, `--passphrase-file`,
/// `SEALDROP_PASSPHRASE` (for cron), a no-echo prompt on the terminal. Never a command-line
/// argument. Only the first line counts, without its LF or CRLF.
///
/// A key on a token is unlocked with the token's PIN instead: `--pin-file`, `SEALDROP_PIN`,
/// the prompt.
struct PassphraseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the passphrase from the first line of this file (/dev/stdin and <(...) work).", valueName: "file"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp("Read the passphrase from the first line of this open file descriptor.", valueName: "n"))
    var passphraseFd: Int32?

    @Option(help: ArgumentHelp("Read the PIN of a PKCS#11 token from the first line of this file (keys on a token).", valueName: "file"))
    var pinFile: String?

    func validate() throws {
        if passphraseFd != nil, passphraseFile != nil { throw ValidationError("give --passphrase-fd or --passphrase-file, not both") }
        if let passphraseFd, passphraseFd < 0 { throw ValidationError("--passphrase-fd must be a descriptor number (0 or more)") }
    }

    /// True when the passphrase would be read from standard input.
    var readsStandardInput: Bool {
        passphraseFd == STDIN_FILENO || ["/dev/stdin", "/dev/fd/0", "/proc/self/fd/0"].contains(passphraseFile ?? "")
    }

    static let environmentVariable = "SEALDROP_PASSPHRASE"
    static let pinVariable = "SEALDROP_PIN"

    /// The user PIN of the token labelled `token`.
    func pin(for token: String) throws -> SecretBytes {
        if let pinFile { return try Self.firstLine(ofFile: pinFile, what: "PIN") }
        if let value = ProcessInfo.processInfo.environment[Self.pinVariable] {
            return SecretBytes(Array(value.utf8))
        }
        guard let pin = Terminal.readSecret(prompt: "PIN for token \"\(token)\": ") else {
            throw UsageFailure(message: "no PIN for token \"\(token)\": no terminal to ask on",
                               hint: "set \(Self.pinVariable) or pass --pin-file FILE")
        }
        return SecretBytes(Array(pin.utf8))
    }

    /// What unlocks `stored`: the passphrase of its key file (`what` names it in the prompt),
    /// or the PIN of the token it is on.
    func unlocking(_ stored: StoredKey, what: String) throws -> SecretBytes {
        if let token = stored.tokenLabel { return try pin(for: token) }
        return try existing(for: what)
    }

    /// The private key at `keyPath` (a key file, or the token key its `.pkcs11` reference
    /// names), unlocked with its passphrase or PIN.
    func privateKey(at keyPath: String) throws -> any RSA.PrivateOperations {
        try startUnlocking(at: keyPath).value()
    }

    /// As `privateKey(at:)`, but once the passphrase or PIN is in hand the unlocking (a key
    /// file's scrypt, 0.07 s on two cores) goes on on another thread while the caller works; on
    /// at most `cores` cores (nil: every one).
    func startUnlocking(at keyPath: String, cores: Int? = nil) throws -> Pending<any RSA.PrivateOperations> {
        let stored = try about(keyPath) { try StoredKey.locate(keyPath) }
        let readied = try about(keyPath) { try stored.readied() }
        let secret = try unlocking(stored, what: keyPath)
        return Pending { try about(keyPath) { try readied.unlock(secret, cores: cores) } }
    }

    /// What unlocks the user's key in `profile`.
    func profileSecret(_ profile: Profile) throws -> SecretBytes {
        try unlocking(about(profile.keyPath) { try profile.storedKey() }, what: profile.keyPath)
    }

    /// What unlocks the keys of `serverRoot`.
    func serverSecret(_ serverRoot: ServerRoot) throws -> SecretBytes {
        let stored = try about(serverRoot.path) { try serverRoot.keyStorage() }
        return try unlocking(stored, what: "the server keys in \(serverRoot.path)")
    }

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
        if let passphraseFile { return try Self.firstLine(ofFile: passphraseFile, what: "passphrase") }
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

    /// The first line of the file at `path`, which holds the `what`.
    static func firstLine(ofFile path: String, what: String) throws -> SecretBytes {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw UsageFailure(message: "\(path): cannot read the \(what) file: \(String(cString: strerror(errno)))",
                               hint: "check the path and its permissions")
        }
        defer { close(fd) }
        return try firstLine(of: fd, label: path)
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

/// Which token a command makes its keys on: `--pkcs11-module` and `--pkcs11-token` together.
struct TokenOptions: ParsableArguments {
    @Option(name: .customLong("pkcs11-module"), help: ArgumentHelp(
        "Make the keys on a PKCS#11 token: the module's path (e.g. /usr/lib/softhsm/libsofthsm2.so).", valueName: "path"))
    var module: String?

    @Option(name: .customLong("pkcs11-token"), help: ArgumentHelp("The label of the token (with --pkcs11-module).", valueName: "label"))
    var token: String?

    func validate() throws {
        if (module == nil) != (token == nil) { throw ValidationError("give --pkcs11-module and --pkcs11-token together") }
    }

    /// Where new keys go: the token, logged in with its PIN from `secrets`; else files under
    /// a new passphrase for `what`.
    func home(_ secrets: PassphraseOptions, newKeysFor what: String) throws -> KeyHome {
        guard let token = try open(secrets) else { return .files(passphrase: try secrets.new(for: what)) }
        return .token(token)
    }

    /// The token, logged in with its PIN from `secrets`; nil when none was named.
    func open(_ secrets: PassphraseOptions) throws -> Token? {
        guard let module, let token else { return nil }
        let opened = try TokenModule.load(module).token(labelled: token)
        try opened.login(pin: secrets.pin(for: token))
        return opened
    }
}

/// A key still being unlocked (`startUnlocking`), standing for the key its certificate
/// names: images are read, encrypted and written while the key file's scrypt runs, and the
/// signature at the end of each, the key's only use, waits for it. A key file that holds
/// another key is refused then, as it is when unlocked first.
struct UnlockingKey: RSA.PrivateOperations {
    let publicKey: RSA.PublicKey
    private let checked: Pending<any RSA.PrivateOperations>

    init(_ unlocking: Pending<any RSA.PrivateOperations>, certificate: Certificate, certificatePath: String) {
        let publicKey = certificate.publicKey
        self.publicKey = publicKey
        checked = Pending {
            let key = try unlocking.value()
            guard key.publicKey == publicKey else {
                throw FileFailure(path: certificatePath, underlying: PKIError.certificateRejected("the certificate is for another key"))
            }
            return key
        }
    }

    /// Whether the key failed to unlock, or is not the certificate's (never waits).
    var hasFailed: Bool { checked.hasFailed }

    /// Throws the key's failure if it has failed (never waits).
    func throwIfFailed() throws { if hasFailed { _ = try unlocked() } }

    func unlocked() throws -> any RSA.PrivateOperations { try checked.value() }

    func signPSS(digest: SHA256Digest) throws -> [UInt8] { try unlocked().signPSS(digest: digest) }

    func decryptOAEP(_ ciphertext: [UInt8], label: [UInt8]) throws -> SecretBytes {
        try unlocked().decryptOAEP(ciphertext, label: label)
    }
}

/// A key still being unlocked (`startUnlocking`), as the identity `open` reads with: each
/// envelope's first pass (the framing, the transcript, and for gcm a hash of every chunk),
/// which needs no key, runs while the key file's scrypt does; the recipient check after it
/// waits for the key. A key that fails to unlock fails there, with its own error.
struct UnlockingIdentity: Identity {
    private let unlocking: Pending<any RSA.PrivateOperations>

    init(_ unlocking: Pending<any RSA.PrivateOperations>) { self.unlocking = unlocking }

    /// Whether the key failed to unlock (never waits).
    var hasFailed: Bool { unlocking.hasFailed }

    /// Throws the key's failure if it has failed (never waits).
    func throwIfFailed() throws { if hasFailed { _ = try unlocked() } }

    /// The unlocked key; throws its failure.
    func unlocked() throws -> RSAIdentity { RSAIdentity(key: try unlocking.value()) }

    var fingerprint: [UInt8] { get throws { try unlocked().fingerprint } }
    var wrappedKeyLength: Int { get throws { try unlocked().wrappedKeyLength } }

    func unwrap(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes {
        try unlocked().unwrap(wrapped, label: label)
    }
}
