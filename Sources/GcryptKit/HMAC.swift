import CGcrypt
import Foundation

/// HMAC-SHA256, one-shot or streaming.
public struct HMACSHA256: Sendable {
    public static let byteCount = 32
    private var state: MACState

    /// Starts a MAC under `key` (any length; 32 bytes from a KDF is what sealdrop uses).
    public init(key: SecretBytes) {
        state = key.withUnsafeBytes { MACState(GCRY_MAC_HMAC_SHA256, key: $0, tagByteCount: Self.byteCount) }
    }

    /// The tag of `data` under `key`.
    public static func authenticationCode(for data: some ContiguousBytes, key: SecretBytes) -> [UInt8] {
        var mac = HMACSHA256(key: key)
        mac.update(data: data)
        return mac.finalize()
    }

    /// True when `tag` is the MAC of `data`, compared in constant time.
    public static func isValid(_ tag: [UInt8], for data: some ContiguousBytes, key: SecretBytes) -> Bool {
        Memory.constantTimeEqual(tag, authenticationCode(for: data, key: key))
    }

    public mutating func update(data: some ContiguousBytes) {
        precondition(isKnownUniquelyReferenced(&state), "an HMACSHA256 value must not be copied mid-stream")
        data.withUnsafeBytes { state.write($0) }
    }

    /// The 32-byte tag. Finalises the MAC: call it once.
    public func finalize() -> [UInt8] {
        state.read()
    }
}
