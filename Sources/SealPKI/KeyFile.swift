import Foundation
import GcryptKit

/// A key pair on disk: `BASE.key` (encrypted PKCS#8, mode 0600 from creation) and
/// `BASE.pub` (SPKI PEM).
public enum KeyFile {
    public static func privatePath(_ base: String) -> String { base + ".key" }
    public static func publicPath(_ base: String) -> String { base + ".pub" }

    /// Writes both files, or neither. Refuses to overwrite unless `replace`.
    /// Never replaces an existing file: no command may overwrite a private key.
    public static func write(_ key: RSA.PrivateKey, base: String, passphrase: SecretBytes) throws {
        let pem = try EncryptedPrivateKey.pem(for: key, passphrase: passphrase)
        // Prove the file opens before it exists (minisign's habit).
        guard try EncryptedPrivateKey.decrypt(pem: pem, passphrase: passphrase).publicKey == key.publicKey else {
            throw PKIError.malformed("freshly encrypted key did not decrypt to itself")
        }
        try AtomicFile.write([
            (privatePath(base), Array(pem.utf8), 0o600),
            (publicPath(base), Array(key.publicKey.spkiPEM.utf8), 0o644),
        ], replace: false)
    }

    /// Reads and decrypts a private key file.
    public static func readPrivateKey(at path: String, passphrase: SecretBytes) throws -> RSA.PrivateKey {
        try readLockedKey(at: path).unlock(passphrase)
    }

    /// The private key file at `path`, read and parsed, still encrypted.
    public static func readLockedKey(at path: String) throws -> EncryptedPrivateKey.Locked {
        try EncryptedPrivateKey.Locked(pem: readText(path))
    }

    /// Reads and decrypts several private key files at once, on every core: each is a
    /// memory-hard scrypt derivation (about a quarter of a second), so a server that loads
    /// three keys starts in two of them on two cores. The first failure, in `paths` order, is thrown.
    public static func readPrivateKeys(at paths: [String], passphrase: SecretBytes) throws -> [RSA.PrivateKey] {
        try paths.concurrentMap { try readPrivateKey(at: $0, passphrase: passphrase) }.map { try $0.get() }
    }

    public static func readPublicKey(at path: String) throws -> RSA.PublicKey {
        try RSA.PublicKey(spkiPEM: readText(path))
    }

    /// A file's text; a missing or unreadable file, or one over 1 MiB, throws with the reason.
    public static func readText(_ path: String) throws -> String {
        String(decoding: try readBytes(path, limit: 1 << 20, followSymlinks: true), as: UTF8.self)
    }

    /// The bytes of a regular file of at most `limit` bytes, read through one descriptor
    /// (opened without blocking on a FIFO and, unless `followSymlinks`, without following a
    /// link) so what was checked is what is read. For files others can write, such as
    /// answers in an outbox, `followSymlinks` is false.
    /// `readBytes`, or nil when there is no file at `path` (every other failure is thrown).
    public static func readBytesIfPresent(_ path: String, limit: Int, followSymlinks: Bool) throws -> [UInt8]? {
        do {
            return try readBytes(path, limit: limit, followSymlinks: followSymlinks)
        } catch FileError.missing {
            return nil
        }
    }

    public static func readBytes(_ path: String, limit: Int, followSymlinks: Bool) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else {
            switch errno {
            case ENOENT: throw FileError.missing(path)
            case ELOOP: throw FileError.notRegular(path)
            default: throw FileError.unreadable(path)
            }
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError.unreadable(path) }
        guard info.st_mode & S_IFMT == S_IFREG else { throw FileError.notRegular(path) }
        guard info.st_size <= limit else { throw FileError.tooLarge(path) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError.unreadable(path)
            }
            if n == 0 { return bytes }
            // The file may grow after fstat: the limit holds for what is read.
            guard bytes.count + n <= limit else { throw FileError.tooLarge(path) }
            bytes += buffer[..<n]
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
        case .tooLarge(let path): "\(path): larger than such a file can be"
        case .unreadable(let path): "\(path): cannot be read (permissions?)"
        }
    }
}

extension KeyFile {
    /// A key file that is already there: sealdrop never overwrites one.
    public struct Exists: Error, Equatable, CustomStringConvertible {
        public let path: String
        public init(path: String) { self.path = path }
        public var description: String { "\(path) already exists, and sealdrop never overwrites a key" }
    }
}
