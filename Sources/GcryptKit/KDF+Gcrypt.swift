import CGcrypt

extension KDF {
    static func derive(
        password: SecretBytes, algorithm: Algorithm, salt: [UInt8], iterations: Int, outputByteCount: Int
    ) throws -> SecretBytes {
        guard outputByteCount > 0, !salt.isEmpty else {
            throw CryptoError.invalidParameter("a KDF needs a salt and a positive output length")
        }
        Library.ensureInitialized()
        let (algo, subalgo): (Int32, Int32) = switch algorithm {
        case .scrypt(let cost): (Int32(GCRY_KDF_SCRYPT.rawValue), Int32(cost))
        case .pbkdf2SHA256: (Int32(GCRY_KDF_PBKDF2.rawValue), Int32(GCRY_MD_SHA256.rawValue))
        }
        var out = [UInt8](repeating: 0, count: outputByteCount)
        let rc = password.withUnsafeBytes { pass in
            salt.withUnsafeBytes { saltBytes in
                out.withUnsafeMutableBytes { key in
                    gcry_kdf_derive(
                        pass.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, pass.count, algo, subalgo,
                        saltBytes.baseAddress, saltBytes.count, UInt(iterations), key.count, key.baseAddress)
                }
            }
        }
        try Library.check(rc, "gcry_kdf_derive")
        defer { Memory.zero(&out) }
        return SecretBytes(out)
    }
}
