import Foundation

/// Text from outside made safe for a log line or a terminal.
public enum LogText {
    /// `text` with every control and format character (C0, DEL, C1, bidi overrides...)
    /// written as a `\u{XX}` escape, and the backslash doubled unless `keepBackslash` (for
    /// text that may already hold escapes, such as a log line's values).
    public static func escaped(_ text: String, keepBackslash: Bool = false) -> String {
        // Printable ASCII needs no look-up of Unicode properties: most log values are.
        if text.utf8.allSatisfy({ (0x20..<0x7F).contains($0) && (keepBackslash || $0 != UInt8(ascii: "\\")) }) { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default:
                out += scalar == "\\" && !keepBackslash ? "\\\\" : String(scalar)
            }
        }
        return out
    }
}
