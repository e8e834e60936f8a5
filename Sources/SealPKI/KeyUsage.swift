import SwiftASN1

/// The keyUsage extension bits sealdrop sets and checks (RFC 5280 4.2.1.3).
public struct KeyUsage: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    // Bit n of the ASN.1 BIT STRING is bit (15 - n) here, so the two bytes read in order.
    public static let digitalSignature = KeyUsage(rawValue: 1 << 15)
    public static let keyEncipherment = KeyUsage(rawValue: 1 << 13)
    public static let keyCertSign = KeyUsage(rawValue: 1 << 10)
    public static let cRLSign = KeyUsage(rawValue: 1 << 9)

    /// DER BIT STRING: minimal length, unused trailing bits counted.
    var bitString: ASN1BitString {
        var bytes = [UInt8(rawValue >> 8), UInt8(rawValue & 0xFF)]
        while bytes.last == 0 { bytes.removeLast() }
        let padding = bytes.last.map { $0.trailingZeroBitCount } ?? 0
        return ASN1BitString(bytes: ArraySlice(bytes), paddingBits: padding)
    }

    init(bitString: ASN1BitString) throws {
        let bytes = Array(bitString.bytes)
        guard bytes.count <= 2 else { throw PKIError.malformed("keyUsage extension") }
        let padded = bytes + [UInt8](repeating: 0, count: 2 - bytes.count)
        self.init(rawValue: UInt16(padded[0]) << 8 | UInt16(padded[1]))
    }

    public var description: String {
        let names: [(KeyUsage, String)] = [
            (.digitalSignature, "digitalSignature"), (.keyEncipherment, "keyEncipherment"),
            (.keyCertSign, "keyCertSign"), (.cRLSign, "cRLSign"),
        ]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: ", ")
    }
}
