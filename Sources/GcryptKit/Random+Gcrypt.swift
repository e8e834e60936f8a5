import CGcrypt

extension Random {
    /// Overwrites every byte of `buffer` with strong random bytes.
    public static func fill(_ buffer: inout [UInt8]) {
        Library.ensureInitialized()
        buffer.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            gcry_randomize(base, raw.count, GCRY_STRONG_RANDOM)
        }
    }
}
