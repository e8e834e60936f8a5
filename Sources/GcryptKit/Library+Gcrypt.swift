import CGcrypt

/// libgcrypt's one-time initialisation and error translation.
enum Library {
    /// The minimum libgcrypt this code was written against (OAEP labels, scrypt, GCM).
    static let minimumVersion = "1.8.0"

    /// Runs libgcrypt's initialisation exactly once, on first use, thread-safely.
    ///
    /// Secure memory is disabled: its fixed mlock'ed pool cannot serve several parallel RSA
    /// operations, and sealdrop zeroes its own secret buffers instead (`SecretBytes`).
    static let initialized: Bool = {
        guard sealdrop_gcry_check_version(minimumVersion) != nil else {
            fatalError("libgcrypt \(minimumVersion) or newer is required")
        }
        _ = sealdrop_gcry_disable_secmem()
        _ = sealdrop_gcry_initialization_finished()
        return true
    }()

    /// Call before any libgcrypt function.
    @inline(__always)
    static func ensureInitialized() {
        precondition(initialized)
    }

    /// The running libgcrypt's version string.
    static var version: String {
        ensureInitialized()
        return String(cString: sealdrop_gcry_check_version(nil))
    }

    /// Throws `CryptoError.library` naming `call` when `code` is not success.
    static func check(_ code: gcry_error_t, _ call: String) throws {
        guard code != 0 else { return }
        throw error(code, call)
    }

    static func error(_ code: gcry_error_t, _ call: String) -> CryptoError {
        let message = gcry_strerror(code).map { String(cString: $0) } ?? "unknown error"
        return .library(call: call, code: code & 0xFFFF, message: message)
    }
}

/// The running libgcrypt, for reports such as `sealdrop bench`.
public enum GcryptVersion {
    public static var string: String { Library.version }
}
