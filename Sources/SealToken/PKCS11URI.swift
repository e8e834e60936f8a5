/// A PKCS#11 URI (RFC 7512) naming a key on a token, e.g.
/// `pkcs11:token=sealdrop;object=ca;id=%3a%9f;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so`.
///
/// Path attributes select: every one given must match. Those sealdrop does not know (other
/// than vendor `x-` ones) are refused, as RFC 7512 section 2.3 asks, rather than ignored.
/// The PIN is never part of the URI sealdrop writes; `pin-value` and `pin-source` are refused,
/// so a PIN does not end up in a file or a process listing.
public struct PKCS11URI: Sendable, Equatable, CustomStringConvertible {
    public var token: String?
    public var manufacturer: String?
    public var serial: String?
    public var model: String?
    public var object: String?
    public var id: [UInt8]?
    /// `private`, `public`, `cert`, `secret-key` or `data`.
    public var type: String?
    /// The module to load (query attribute `module-path`).
    public var modulePath: String?

    public init(token: String? = nil, object: String? = nil, id: [UInt8]? = nil, type: String? = nil, modulePath: String? = nil) {
        self.token = token
        self.object = object
        self.id = id
        self.type = type
        self.modulePath = modulePath
    }

    static let scheme = "pkcs11:"
    static let types: Set<String> = ["private", "public", "cert", "secret-key", "data"]
    /// What the RFC defines that sealdrop reads nothing from; accepted, so URIs copied from
    /// p11tool or pkcs11-tool work, but they never narrow the match.
    static let ignoredPath: Set<String> = [
        "library-manufacturer", "library-description", "library-version", "slot-description",
        "slot-manufacturer", "slot-id",
    ]

    public init(parsing text: String) throws {
        guard text.count <= 4096 else { throw TokenError.badURI(String(text.prefix(64)) + "…", "longer than 4096 characters") }
        guard text.lowercased().hasPrefix(Self.scheme) else { throw TokenError.badURI(text, "it does not start with pkcs11:") }
        let rest = text.dropFirst(Self.scheme.count)
        let parts = rest.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = parts[0]
        let query = parts.count > 1 ? parts[1] : ""
        var seen = Set<String>()
        for attribute in path.split(separator: ";", omittingEmptySubsequences: true) {
            let (name, value) = try Self.pair(attribute, in: text)
            guard seen.insert(name).inserted else { throw TokenError.badURI(text, "\(name) is given twice") }
            switch name {
            case "token": token = try Self.string(value, name, text)
            case "manufacturer": manufacturer = try Self.string(value, name, text)
            case "serial": serial = try Self.string(value, name, text)
            case "model": model = try Self.string(value, name, text)
            case "object": object = try Self.string(value, name, text)
            case "id": id = value
            case "type":
                let type = try Self.string(value, name, text)
                guard Self.types.contains(type) else { throw TokenError.badURI(text, "type must be one of \(Self.types.sorted().joined(separator: ", "))") }
                self.type = type
            default:
                guard Self.ignoredPath.contains(name) || name.hasPrefix("x-") else {
                    throw TokenError.badURI(text, "sealdrop does not know the path attribute \(name)")
                }
            }
        }
        for attribute in query.split(separator: "&", omittingEmptySubsequences: true) {
            let (name, value) = try Self.pair(attribute, in: text)
            switch name {
            case "module-path": modulePath = try Self.string(value, name, text)
            case "pin-value", "pin-source":
                throw TokenError.badURI(text, "\(name) is not read: give the PIN with --pin-file or SEALDROP_PIN")
            default:
                guard name == "module-name" || name.hasPrefix("x-") else {
                    throw TokenError.badURI(text, "sealdrop does not know the query attribute \(name)")
                }
            }
        }
    }

    private static func pair(_ attribute: Substring, in text: String) throws -> (String, [UInt8]) {
        guard let equals = attribute.firstIndex(of: "=") else { throw TokenError.badURI(text, "\(attribute) has no =") }
        let name = attribute[..<equals].lowercased()
        guard !name.isEmpty else { throw TokenError.badURI(text, "an attribute has no name") }
        return (name, try percentDecode(attribute[attribute.index(after: equals)...], in: text))
    }

    private static func string(_ bytes: [UInt8], _ name: String, _ text: String) throws -> String {
        guard let value = String(validating: bytes, as: UTF8.self) else { throw TokenError.badURI(text, "\(name) is not UTF-8") }
        return value
    }

    private static func percentDecode(_ text: Substring, in uri: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let high = hexValue(utf8[utf8.startIndex]), let low = hexValue(utf8[utf8.startIndex + 1]) else {
                throw TokenError.badURI(uri, "a % is not followed by two hex digits")
            }
            bytes.append(high << 4 | low)
            utf8 = utf8.dropFirst(2)
        }
        return bytes
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-encodes every byte outside RFC 3986's unreserved set (and `/` where `slash`).
    private static func percentEncode(_ bytes: some Sequence<UInt8>, all: Bool = false, slash: Bool = false) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            let unreserved = (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "~")
            if !all && (unreserved || (slash && byte == UInt8(ascii: "/"))) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The URI in RFC 7512's order, every value percent-encoded where needed, `id` always.
    public var description: String {
        var path: [String] = []
        if let token { path.append("token=" + Self.percentEncode(token.utf8)) }
        if let manufacturer { path.append("manufacturer=" + Self.percentEncode(manufacturer.utf8)) }
        if let serial { path.append("serial=" + Self.percentEncode(serial.utf8)) }
        if let model { path.append("model=" + Self.percentEncode(model.utf8)) }
        if let object { path.append("object=" + Self.percentEncode(object.utf8)) }
        if let id { path.append("id=" + Self.percentEncode(id, all: true)) }
        if let type { path.append("type=" + type) }
        var text = Self.scheme + path.joined(separator: ";")
        if let modulePath { text += "?module-path=" + Self.percentEncode(modulePath.utf8, slash: true) }
        return text
    }
}
