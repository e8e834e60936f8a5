import CGcrypt

extension Memory {
    /// Overwrites `bytes` with zeros in a way the optimiser cannot remove.
    public static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            sealdrop_explicit_bzero(base, buffer.count)
        }
    }
}
