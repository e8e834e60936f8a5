import Foundation

/// A SHA-256 digest: 32 bytes.
public struct SHA256Digest: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32
    public let bytes: [UInt8]

    /// Wraps 32 bytes; anything else is refused.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw CryptoError.invalidParameter("a SHA-256 digest is 32 bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    init(unchecked bytes: [UInt8]) {
        precondition(bytes.count == Self.byteCount)
        self.bytes = bytes
    }

    /// Lowercase hex.
    public var hex: String { bytes.hexString }
    public var description: String { "SHA256(\(hex))" }
}

/// SHA-256, one-shot or streaming (`update` repeatedly, then `finalize`).
///
/// A value type: copying a hasher mid-stream forks it.
public struct SHA256: Sendable {
    private var state: HashState

    public init() {
        state = HashState()
    }

    /// The digest of `data` in one call.
    public static func hash(data: some ContiguousBytes) -> SHA256Digest {
        data.withUnsafeBytes { SHA256Digest(unchecked: HashState.oneShot($0)) }
    }

    public mutating func update(data: some ContiguousBytes) {
        if !isKnownUniquelyReferenced(&state) {
            state = state.copy()
        }
        data.withUnsafeBytes { state.write($0) }
    }

    /// The digest of everything passed to `update`. The hasher can keep going afterwards.
    public func finalize() -> SHA256Digest {
        SHA256Digest(unchecked: state.copy().read())
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hex.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses hex (either case); nil on odd length or a non-hex character.
    public init?(hexString: String) {
        var bytes = [UInt8]()
        bytes.reserveCapacity(hexString.utf8.count / 2)
        var high: UInt8?
        for c in hexString.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): v = c - UInt8(ascii: "A") + 10
            default: return nil
            }
            if let h = high {
                bytes.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        guard high == nil else { return nil }
        self = bytes
    }
}
