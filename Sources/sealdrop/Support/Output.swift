import DropProtocol
import Foundation

/// RFC 3339 UTC time, seconds precision.
func iso8601(_ date: Date) -> String {
    LogTime.format(date, milliseconds: false)
}

/// `value` as one line of JSON: sorted keys, slashes as they are, dates in ISO 8601 (as
/// `iso8601`, which writes what JSONEncoder's `.iso8601` did without an ICU formatter a date).
func jsonLine(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(iso8601(date))
    }
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Prints `value` as one line of JSON with sorted keys.
func printJSON(_ value: Any) {
    let data = try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
    print(String(decoding: data, as: UTF8.self))
}
