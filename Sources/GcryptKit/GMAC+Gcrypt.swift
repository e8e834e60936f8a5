import CGcrypt

/// GMAC over AES-256 (NIST SP 800-38D): a MAC as fast as GCM's GHASH, for a reader that
/// must know a second read of a file saw exactly the bytes of the first, under a key of its
/// own that nobody else ever sees. Each call opens its own libgcrypt handle, so calls may run
/// on any number of threads at once.
public enum GMAC {
    public static let keyByteCount = 32
    public static let nonceByteCount = 12
    public static let tagByteCount = 16

    /// The tag of `parts`, concatenated, under `key` and `nonce` (never twice the same nonce
    /// under one key).
    public static func tag(key: SecretBytes, nonce: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        precondition(key.count == keyByteCount && nonce.count == nonceByteCount, "GMAC: a 32-byte key and a 12-byte nonce")
        let state = key.withUnsafeBytes { MACState(GCRY_MAC_GMAC_AES, key: $0, nonce: nonce, tagByteCount: tagByteCount) }
        for part in parts { part.withUnsafeBytes { state.write($0) } }
        return state.read()
    }
}
