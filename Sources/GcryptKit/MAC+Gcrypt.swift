import CGcrypt

/// Owns a libgcrypt MAC context (HMAC-SHA256, GMAC-AES): opened and keyed once, written to,
/// read once.
final class MACState: @unchecked Sendable {
    // HMACSHA256 refuses to write through a shared reference.
    private let handle: gcry_mac_hd_t
    private let tagByteCount: Int

    /// A MAC of `algorithm` under `key`, with `nonce` for the algorithms that take one (GMAC).
    init(_ algorithm: gcry_mac_algos, key: UnsafeRawBufferPointer, nonce: [UInt8]? = nil, tagByteCount: Int) {
        Library.ensureInitialized()
        var h: gcry_mac_hd_t?
        var rc = gcry_mac_open(&h, Int32(algorithm.rawValue), 0, nil)
        guard rc == 0, let h else { fatalError("gcry_mac_open(\(algorithm.rawValue)) failed: \(rc)") }
        rc = gcry_mac_setkey(h, key.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, key.count)
        guard rc == 0 else { fatalError("gcry_mac_setkey failed: \(rc)") }
        if let nonce {
            rc = nonce.withUnsafeBytes { gcry_mac_setiv(h, $0.baseAddress, $0.count) }
            guard rc == 0 else { fatalError("gcry_mac_setiv failed: \(rc)") }
        }
        handle = h
        self.tagByteCount = tagByteCount
    }

    deinit {
        gcry_mac_close(handle)
    }

    func write(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        gcry_mac_write(handle, data.baseAddress, data.count)
    }

    func read() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: tagByteCount)
        var length = out.count
        let rc = out.withUnsafeMutableBytes { gcry_mac_read(handle, $0.baseAddress, &length) }
        precondition(rc == 0 && length == tagByteCount, "gcry_mac_read failed: \(rc)")
        return out
    }
}
