/// AES-256, in the two modes sealdrop's suites use.
public enum AES {
    public static let keyByteCount = 32
    public static let blockByteCount = 16
}
