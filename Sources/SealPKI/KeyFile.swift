import Foundation
import GcryptKit

/// A key pair on disk: `BASE.key` (encrypted PKCS#8, mode 0600 from creation) and
/// `BASE.pub` (SPKI PEM).
public enum KeyFile {
    public static func privatePath(_ base: String) -> String { base + ".key" }
    public static func publicPath(_ base: String) -> String { base + ".pub" }

    /// Writes both files, or neither. Refuses to overwrite unless `replace`.
    public static func write(
        _ key: RSA.PrivateKey, base: String, passphrase: SecretBytes, replace: Bool = false
    ) throws {
        let pem = try EncryptedPrivateKey.pem(for: key, passphrase: passphrase)
        // Prove the file opens before it exists (minisign's habit).
        guard try EncryptedPrivateKey.decrypt(pem: pem, passphrase: passphrase).publicKey == key.publicKey else {
            throw PKIError.malformed("freshly encrypted key did not decrypt to itself")
        }
        try AtomicFile.write([
            (privatePath(base), Array(pem.utf8), 0o600),
            (publicPath(base), Array(key.publicKey.spkiPEM.utf8), 0o644),
        ], replace: replace)
    }

    /// Reads and decrypts a private key file.
    public static func readPrivateKey(at path: String, passphrase: SecretBytes) throws -> RSA.PrivateKey {
        try EncryptedPrivateKey.decrypt(pem: readText(path), passphrase: passphrase)
    }

    public static func readPublicKey(at path: String) throws -> RSA.PublicKey {
        try RSA.PublicKey(spkiPEM: readText(path))
    }

    /// A file's text; a missing or unreadable file, or one over 1 MiB, throws with the reason.
    public static func readText(_ path: String) throws -> String {
        let url = URL(fileURLWithPath: path)
        let attributes: [FileAttributeKey: Any]
        do {
            attributes = try FileManager.default.attributesOfItem(atPath: path)
        } catch {
            throw FileError.missing(path)
        }
        guard attributes[.type] as? FileAttributeType == .typeRegular else { throw FileError.notRegular(path) }
        guard (attributes[.size] as? Int ?? 0) <= 1 << 20 else { throw FileError.tooLarge(path) }
        do {
            return String(decoding: try Data(contentsOf: url), as: UTF8.self)
        } catch {
            throw FileError.unreadable(path)
        }
    }
}

/// Why an input file could not be read.
public enum FileError: Error, Equatable, CustomStringConvertible {
    case missing(String)
    case notRegular(String)
    case tooLarge(String)
    case unreadable(String)

    public var description: String {
        switch self {
        case .missing(let path): "\(path): no such file"
        case .notRegular(let path): "\(path): not a regular file"
        case .tooLarge(let path): "\(path): too large for a key, certificate or request"
        case .unreadable(let path): "\(path): cannot be read (permissions?)"
        }
    }
}
