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
        Library.ensureInitialized()
        var h: gcry_mac_hd_t?
        var rc = gcry_mac_open(&h, Int32(GCRY_MAC_GMAC_AES.rawValue), 0, nil)
        guard rc == 0, let h else { fatalError("gcry_mac_open(GMAC_AES) failed: \(rc)") }
        defer { gcry_mac_close(h) }
        rc = key.withUnsafeBytes { gcry_mac_setkey(h, $0.baseAddress, $0.count) }
        precondition(rc == 0, "gcry_mac_setkey failed: \(rc)")
        rc = nonce.withUnsafeBytes { gcry_mac_setiv(h, $0.baseAddress, $0.count) }
        precondition(rc == 0, "gcry_mac_setiv failed: \(rc)")
        for part in parts where !part.isEmpty {
            part.withUnsafeBytes { _ = gcry_mac_write(h, $0.baseAddress, $0.count) }
        }
        var out = [UInt8](repeating: 0, count: tagByteCount)
        var length = out.count
        rc = out.withUnsafeMutableBytes { gcry_mac_read(h, $0.baseAddress, &length) }
        precondition(rc == 0 && length == tagByteCount, "gcry_mac_read failed: \(rc)")
        return out
    }
}
