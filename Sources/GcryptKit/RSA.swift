/// RSA as sealdrop uses it: PSS-SHA256 signatures (salt 32, MGF1-SHA256), OAEP-SHA256
/// key wrapping, and PKCS#1 v1.5 SHA-256 verification for certificates made elsewhere.
public enum RSA {
    /// The key sizes sealdrop generates. Smaller keys are refused everywhere.
    public enum KeySize: Int, CaseIterable, Sendable {
        case bits2048 = 2048
        case bits3072 = 3072
        case bits4096 = 4096

        public static let `default` = KeySize.bits3072
    }

    /// Keys below this are refused on import as well as generation.
    public static let minimumModulusBits = 2048
    /// Keys above this are refused on import (they would only be a denial of service).
    public static let maximumModulusBits = 8192
    /// The PSS salt length: the digest length, as RFC 8017 recommends.
    public static let pssSaltByteCount = 32

    static func checkModulusSize(_ bits: Int) throws {
        guard bits >= minimumModulusBits else {
            throw CryptoError.invalidKey("RSA key of \(bits) bits is too small (at least \(minimumModulusBits) required)")
        }
        guard bits <= maximumModulusBits else {
            throw CryptoError.invalidKey("RSA key of \(bits) bits is too large (at most \(maximumModulusBits))")
        }
    }
}
