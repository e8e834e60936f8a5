/// A sealdrop user name: 1 to 32 characters, lowercase ASCII letters, digits, `-` and `_`,
/// starting with a letter. The rule keeps names safe as directory names (no `/`, no `.`,
/// no `..`), unambiguous to read, and identical in every locale.
public struct UserName: Hashable, Sendable, CustomStringConvertible {
    public static let maximumLength = 32
    public let value: String

    public init(_ value: String) throws {
        let bytes = Array(value.utf8)
        guard !bytes.isEmpty, bytes.count <= Self.maximumLength else {
            throw PKIError.invalidName("\"\(value)\" must be 1 to \(Self.maximumLength) characters")
        }
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) else {
            throw PKIError.invalidName("\"\(value)\" must start with a lowercase letter a-z")
        }
        for byte in bytes {
            let allowed = (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            guard allowed else {
                throw PKIError.invalidName("\"\(value)\" may only contain a-z, 0-9, '-' and '_'")
            }
        }
        self.value = value
    }

    public var description: String { value }
}
