import Foundation
import GcryptKit
import SealPKI

/// Where a private key of a root or a profile is kept: the encrypted key file `BASE.key`, or a
/// token, named by the PKCS#11 URI in `BASE.pkcs11` (one line; no secret in it). The key
/// file is unlocked with a passphrase, the token with its PIN.
public enum StoredKey: Sendable, Equatable {
    case file(String)
    case token(PKCS11URI, reference: String)

    /// BASE of the key file `BASE.key`.
    static func base(ofKeyAt keyPath: String) -> String {
        keyPath.hasSuffix(".key") ? String(keyPath.dropLast(4)) : keyPath
    }

    /// The reference file that stands for the key file at `keyPath` when the key is on a token.
    public static func referencePath(forKeyAt keyPath: String) -> String {
        base(ofKeyAt: keyPath) + ".pkcs11"
    }

    /// The reference to `key` at `keyPath`'s place, as written (mode 0644: it holds no secret).
    static func referenceFile(for key: TokenKey, atKey keyPath: String) -> (path: String, bytes: [UInt8], mode: mode_t) {
        (referencePath(forKeyAt: keyPath), Array((key.uri.description + "\n").utf8), 0o644)
    }

    /// The key that stands at `keyPath`: the file, or the token its reference names. Both at
    /// once is refused (which one would sign?).
    public static func locate(_ keyPath: String) throws -> StoredKey {
        let reference = referencePath(forKeyAt: keyPath)
        guard let text = try KeyFile.readBytesIfPresent(reference, limit: 8192, followSymlinks: true) else { return .file(keyPath) }
        if FileManager.default.fileExists(atPath: keyPath) {
            throw PKIError.malformed("both \(keyPath) and \(reference) exist: remove the one that no longer holds the key")
        }
        guard let line = String(validating: text, as: UTF8.self)?.split(whereSeparator: \.isNewline).first else {
            throw TokenError.badURI(reference, "the file holds no URI")
        }
        let uri = try PKCS11URI(parsing: String(line))
        guard uri.modulePath != nil else { throw TokenError.badURI(uri.description, "it has no module-path") }
        return .token(uri, reference: reference)
    }

    /// The token's label, when the key is on one: what a PIN prompt names.
    public var tokenLabel: String? {
        if case .token(let uri, _) = self { return uri.token ?? uri.description }
        return nil
    }

    /// Where the key is, for messages: the key file, or the URI.
    public var location: String {
        switch self {
        case .file(let path): path
        case .token(let uri, _): uri.description
        }
    }

    /// The key, unlocked with `secret`: the passphrase of a key file, the PIN of a token.
    public func unlock(_ secret: SecretBytes) throws -> any RSA.PrivateOperations {
        try readied().unlock(secret)
    }

    /// The key ready to unlock: a key file read and parsed, so that every error but a wrong
    /// passphrase is found before the costly key derivation; a token as its reference names it.
    public func readied() throws -> Readied {
        switch self {
        case .file(let path): .file(try KeyFile.readLockedKey(at: path))
        case .token(let uri, _): .token(uri)
        }
    }

    public enum Readied: Sendable {
        case file(EncryptedPrivateKey.Locked)
        case token(PKCS11URI)

        /// The key, unlocked with `secret`; a key file's derivation on at most `cores` cores
        /// (nil: every one).
        public func unlock(_ secret: SecretBytes, cores: Int? = nil) throws -> any RSA.PrivateOperations {
            switch self {
            case .file(let locked): try locked.unlock(secret, cores: cores)
            case .token(let uri): try StoredKey.tokenKey(uri, pin: secret)
            }
        }
    }

    /// The key `uri` names: module loaded, token found, user logged in with `pin`.
    public static func tokenKey(_ uri: PKCS11URI, pin: SecretBytes) throws -> TokenKey {
        guard let modulePath = uri.modulePath else { throw TokenError.badURI(uri.description, "it has no module-path") }
        let token = try TokenModule.load(modulePath).token(matching: uri)
        try token.login(pin: pin)
        return try TokenKey.find(uri, on: token)
    }

    /// Writes the reference for `key` at `keyPath`'s place.
    public static func writeReference(to key: TokenKey, forKeyAt keyPath: String, replace: Bool = false) throws {
        try AtomicFile.write([referenceFile(for: key, atKey: keyPath)], replace: replace)
    }
}

/// Where new private keys go: encrypted files under a passphrase, or a token (logged in).
public enum KeyHome: Sendable {
    case files(passphrase: SecretBytes)
    case token(Token)

    /// A new key for `keyPath` (`BASE.key`), and the files that record it, for the caller to
    /// write with whatever else must appear together: the encrypted key file, or the
    /// reference to the key now on the token (labelled `label`, limited to `usage`); and
    /// `BASE.pub` when `publicFile`. `sharingLabel` lets a successor take a label whose key
    /// is about to go.
    public func newKey(at keyPath: String, label: String, usage: TokenKey.Usage, size: RSA.KeySize, publicFile: Bool = false,
                       sharingLabel: Bool = false)
        throws -> (key: any RSA.PrivateOperations, files: [(path: String, bytes: [UInt8], mode: mode_t)]) {
        let key: any RSA.PrivateOperations
        var files: [(path: String, bytes: [UInt8], mode: mode_t)]
        switch self {
        case .files(let passphrase):
            let memory = try RSA.PrivateKey.generate(size: size)
            key = memory
            files = [(keyPath, Array(try EncryptedPrivateKey.pem(for: memory, passphrase: passphrase).utf8), 0o600)]
        case .token(let token):
            let onToken = try TokenKey.generate(on: token, label: label, usage: usage, size: size, sharingLabel: sharingLabel)
            key = onToken
            files = [StoredKey.referenceFile(for: onToken, atKey: keyPath)]
        }
        if publicFile {
            files.append((KeyFile.publicPath(StoredKey.base(ofKeyAt: keyPath)), Array(key.publicKey.spkiPEM.utf8), 0o644))
        }
        return (key, files)
    }

    /// Takes back a key `newKey` made whose files were never written.
    public static func discard(_ key: any RSA.PrivateOperations) {
        try? (key as? TokenKey)?.destroy()
    }
}
