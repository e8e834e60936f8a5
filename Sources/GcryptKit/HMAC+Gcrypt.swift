import CGcrypt

/// Owns a libgcrypt HMAC-SHA256 context.
final class MACState: @unchecked Sendable {
    // HMACSHA256 refuses to write through a shared reference.
    private let handle: gcry_mac_hd_t

    init(key: UnsafeRawBufferPointer) {
        Library.ensureInitialized()
        var h: gcry_mac_hd_t?
        var rc = gcry_mac_open(&h, Int32(GCRY_MAC_HMAC_SHA256.rawValue), 0, nil)
        guard rc == 0, let h else { fatalError("gcry_mac_open(HMAC_SHA256) failed: \(rc)") }
        rc = gcry_mac_setkey(h, key.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, key.count)
        guard rc == 0 else { fatalError("gcry_mac_setkey failed: \(rc)") }
        handle = h
    }

    deinit {
        gcry_mac_close(handle)
    }

    func write(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        gcry_mac_write(handle, data.baseAddress, data.count)
    }

    func read() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: HMACSHA256.byteCount)
        var length = out.count
        let rc = out.withUnsafeMutableBytes { gcry_mac_read(handle, $0.baseAddress, &length) }
        precondition(rc == 0 && length == HMACSHA256.byteCount, "gcry_mac_read failed: \(rc)")
        return out
    }
}
