import CGcrypt

/// Owns a libgcrypt SHA-256 context.
final class HashState: @unchecked Sendable {
    // Never shared mutably: SHA256 copies it before writing unless uniquely referenced.
    private let handle: gcry_md_hd_t

    init() {
        Library.ensureInitialized()
        var h: gcry_md_hd_t?
        let rc = gcry_md_open(&h, Int32(GCRY_MD_SHA256.rawValue), 0)
        guard rc == 0, let h else { fatalError("gcry_md_open(SHA256) failed: \(rc)") }
        handle = h
    }

    private init(handle: gcry_md_hd_t) {
        self.handle = handle
    }

    deinit {
        gcry_md_close(handle)
    }

    static func oneShot(_ data: UnsafeRawBufferPointer) -> [UInt8] {
        Library.ensureInitialized()
        var out = [UInt8](repeating: 0, count: SHA256Digest.byteCount)
        out.withUnsafeMutableBytes { digest in
            gcry_md_hash_buffer(Int32(GCRY_MD_SHA256.rawValue), digest.baseAddress, data.baseAddress, data.count)
        }
        return out
    }

    func write(_ data: UnsafeRawBufferPointer) {
        guard data.count > 0 else { return }
        gcry_md_write(handle, data.baseAddress, data.count)
    }

    func copy() -> HashState {
        var h: gcry_md_hd_t?
        let rc = gcry_md_copy(&h, handle)
        guard rc == 0, let h else { fatalError("gcry_md_copy failed: \(rc)") }
        return HashState(handle: h)
    }

    /// Finalises this context and returns the digest; the context is spent afterwards.
    func read() -> [UInt8] {
        guard let digest = gcry_md_read(handle, Int32(GCRY_MD_SHA256.rawValue)) else {
            fatalError("gcry_md_read returned no digest")
        }
        return Array(UnsafeBufferPointer(start: digest, count: SHA256Digest.byteCount))
    }
}
