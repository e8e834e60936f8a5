import CGcrypt

extension KDF {
    /// PBKDF2-HMAC-SHA256 on libgcrypt.
    static func libgcryptPBKDF2(password: SecretBytes, salt: [UInt8], iterations: Int, outputByteCount: Int) throws -> SecretBytes {
        try checkSaltAndOutput(salt, outputByteCount)
        Library.ensureInitialized()
        var out = [UInt8](repeating: 0, count: outputByteCount)
        let rc = password.withUnsafeBytes { pass in
            salt.withUnsafeBytes { saltBytes in
                out.withUnsafeMutableBytes { key in
                    gcry_kdf_derive(
                        pass.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, pass.count,
                        Int32(GCRY_KDF_PBKDF2.rawValue), Int32(GCRY_MD_SHA256.rawValue), saltBytes.baseAddress, saltBytes.count, UInt(iterations), key.count, key.baseAddress)
                }
            }
        }
        try Library.check(rc, "gcry_kdf_derive")
        defer { Memory.zero(&out) }
        return SecretBytes(out)
    }
}
