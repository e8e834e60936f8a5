/// libgcrypt's cryptographically secure random number generator.
public enum Random {
    /// `count` random bytes, suitable for keys, IVs, salts and envelope ids.
    public static func bytes(count: Int) -> [UInt8] {
        precondition(count >= 0)
        var out = [UInt8](repeating: 0, count: count)
        fill(&out)
        return out
    }
}
