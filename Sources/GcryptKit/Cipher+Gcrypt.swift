import CGcrypt

/// Owns a libgcrypt AES-256 cipher context in one mode.
final class CipherHandle: @unchecked Sendable {
    // Only used through value types that trap on shared mutation.
    enum Mode {
        case cbc, gcm

        var gcryMode: Int32 {
            switch self {
            case .cbc: Int32(GCRY_CIPHER_MODE_CBC.rawValue)
            case .gcm: Int32(GCRY_CIPHER_MODE_GCM.rawValue)
            }
        }
    }

    private let handle: gcry_cipher_hd_t

    init(mode: Mode, key: SecretBytes, iv: [UInt8]) throws {
        guard key.count == AES.keyByteCount else {
            throw CryptoError.invalidParameter("an AES-256 key is 32 bytes, got \(key.count)")
        }
        Library.ensureInitialized()
        var h: gcry_cipher_hd_t?
        try Library.check(gcry_cipher_open(&h, Int32(GCRY_CIPHER_AES256.rawValue), mode.gcryMode, 0), "gcry_cipher_open")
        guard let h else { throw CryptoError.invalidParameter("gcry_cipher_open returned no handle") }
        handle = h
        try key.withUnsafeBytes { try Library.check(gcry_cipher_setkey(h, $0.baseAddress, $0.count), "gcry_cipher_setkey") }
        try iv.withUnsafeBytes { try Library.check(gcry_cipher_setiv(h, $0.baseAddress, $0.count), "gcry_cipher_setiv") }
    }

    deinit {
        gcry_cipher_close(handle)
    }

    func encrypt(inPlace buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count > 0 else { return }
        let rc = gcry_cipher_encrypt(handle, buffer.baseAddress, buffer.count, nil, 0)
        precondition(rc == 0, "gcry_cipher_encrypt failed: \(rc)")
    }

    func decrypt(inPlace buffer: UnsafeMutableRawBufferPointer) {
        guard buffer.count > 0 else { return }
        let rc = gcry_cipher_decrypt(handle, buffer.baseAddress, buffer.count, nil, 0)
        precondition(rc == 0, "gcry_cipher_decrypt failed: \(rc)")
    }

    func authenticate(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        let rc = gcry_cipher_authenticate(handle, data.baseAddress, data.count)
        precondition(rc == 0, "gcry_cipher_authenticate failed: \(rc)")
    }

    /// Tells libgcrypt the next encrypt/decrypt call is the last one (GCM needs it for a
    /// final partial block).
    func markFinal() {
        _ = gcry_cipher_ctl(handle, Int32(GCRYCTL_FINALIZE.rawValue), nil, 0)
    }

    func tag() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: AES.GCM.tagByteCount)
        let rc = out.withUnsafeMutableBytes { gcry_cipher_gettag(handle, $0.baseAddress, $0.count) }
        precondition(rc == 0, "gcry_cipher_gettag failed: \(rc)")
        return out
    }

    /// Constant-time tag check inside libgcrypt.
    func checkTag(_ tag: [UInt8]) -> Bool {
        tag.withUnsafeBytes { gcry_cipher_checktag(handle, $0.baseAddress, $0.count) == 0 }
    }
}
