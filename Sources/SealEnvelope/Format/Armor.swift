import Foundation

/// The ASCII armour of FORMAT.md §12: an envelope as base64 between BEGIN and END lines, 64
/// characters a line, for mail bodies and terminals. Readers take both forms: an input that
/// starts with `Armor.begin` is armour, anything else is binary.
public enum Armor {
    public static let begin = Array("-----BEGIN SEALDROP ENVELOPE-----".utf8)
    public static let end = Array("-----END SEALDROP ENVELOPE-----".utf8)
    /// Characters per body line; 48 envelope bytes.
    public static let lineLength = 64
    static let bytesPerLine = lineLength / 4 * 3

    /// True when `prefix` (the first bytes of an input) opens armour.
    public static func isArmoured(_ prefix: [UInt8]) -> Bool {
        prefix.count >= begin.count && Array(prefix.prefix(begin.count)) == begin
    }

    /// Decodes strict armour from `source` into `sink`: the BEGIN line, full 64-character
    /// lines of canonical padded base64 and one shorter last line, the END line, then nothing
    /// but whitespace. Lines end in LF or CRLF. Anything else is `EnvelopeError.malformed`.
    public static func decode(from source: inout some ByteSource, to sink: inout some ByteSink) throws {
        var lines = LineReader(maxLength: lineLength + 2)
        guard let first = try lines.next(&source), first == begin else { throw EnvelopeError.malformed("armour does not start with its BEGIN line") }
        var sawShortLine = false
        var sawBody = false
        while true {
            guard let line = try lines.next(&source) else { throw EnvelopeError.truncated }
            if line == end { break }
            guard !sawShortLine else { throw EnvelopeError.malformed("armour has a short line before its last") }
            guard !line.isEmpty, line.count <= lineLength, line.count % 4 == 0 else {
                throw EnvelopeError.malformed("armour line \(lines.number) is not base64 in groups of four, at most 64 characters")
            }
            sawShortLine = line.count < lineLength
            let decoded = try decodeBase64(line, line: lines.number)
            if decoded.count < line.count / 4 * 3 { sawShortLine = true }  // padding: the last line
            try sink.write(decoded)
            sawBody = true
        }
        guard sawBody else { throw EnvelopeError.truncated }
        // After END: whitespace only.
        var rest = lines.remainder()
        while true {
            if rest.isEmpty { rest = try source.read(upTo: 4096) }
            if rest.isEmpty { break }
            guard rest.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) else { throw EnvelopeError.trailingData }
            rest = []
        }
    }

    /// Canonical RFC 4648 base64 of one line: padding only at its end, unused bits zero.
    static func decodeBase64(_ text: [UInt8], line: Int) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        let bad = EnvelopeError.malformed("armour line \(line) is not canonical base64")
        for group in stride(from: 0, to: text.count, by: 4) {
            let last = group + 4 == text.count
            var values = [UInt8](repeating: 0, count: 4)
            var padding = 0
            for i in 0..<4 {
                let c = text[group + i]
                if c == UInt8(ascii: "=") {
                    guard last, i >= 2 else { throw bad }
                    padding += 1
                    continue
                }
                guard padding == 0, let v = alphabetIndex[Int(c)] else { throw bad }
                values[i] = v
            }
            let triple = UInt32(values[0]) << 18 | UInt32(values[1]) << 12 | UInt32(values[2]) << 6 | UInt32(values[3])
            let bytes = [UInt8(triple >> 16), UInt8(truncatingIfNeeded: triple >> 8), UInt8(truncatingIfNeeded: triple)]
            // Bits below the last whole byte must be zero (one encoding per envelope).
            if padding == 1, values[2] & 0x03 != 0 { throw bad }
            if padding == 2, values[1] & 0x0F != 0 { throw bad }
            out += bytes.prefix(3 - padding)
        }
        return out
    }

    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    static let alphabetIndex: [UInt8?] = {
        var table = [UInt8?](repeating: nil, count: 256)
        for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
        return table
    }()
}

/// Turns envelope bytes into armour text as they come; `finish` gives the last line and END.
public struct ArmorEncoder: Sendable {
    private var pending: [UInt8] = []
    private var started = false

    public init() {}

    public mutating func encode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        if !started {
            out = Armor.begin + [0x0A]
            started = true
        }
        pending += bytes
        let whole = pending.count / Armor.bytesPerLine * Armor.bytesPerLine
        guard whole > 0 else { return out }
        out += Self.lines(pending[..<whole])
        pending.removeFirst(whole)
        return out
    }

    public mutating func finish() -> [UInt8] {
        var out = encode([])
        out += Self.lines(pending[...])
        pending = []
        return out + Armor.end + [0x0A]
    }

    static func lines(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let next = min(bytes.endIndex, index + Armor.bytesPerLine)
            out += Array(Data(bytes[index..<next]).base64EncodedString().utf8)
            out.append(0x0A)
            index = next
        }
        return out
    }
}

/// A sink that writes armour around what it is given into `inner`; call `finish` at the end.
public struct ArmoredSink<Inner: ByteSink>: ByteSink {
    public private(set) var inner: Inner
    private var encoder = ArmorEncoder()

    public init(_ inner: Inner) { self.inner = inner }

    public mutating func write(_ bytes: [UInt8]) throws { try inner.write(encoder.encode(bytes)) }

    public mutating func finish() throws { try inner.write(encoder.finish()) }
}

/// Lines of at most `maxLength` bytes, without their LF or CRLF.
struct LineReader {
    let maxLength: Int
    private var buffer: [UInt8] = []
    private var atEnd = false
    private(set) var number = 0

    init(maxLength: Int) { self.maxLength = maxLength }

    /// Bytes read from the source but not yet returned as lines.
    mutating func remainder() -> [UInt8] {
        defer { buffer = [] }
        return buffer
    }

    /// The next line; nil at the end of the input. A final line without LF is a line.
    mutating func next(_ source: inout some ByteSource) throws -> [UInt8]? {
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                var line = Array(buffer[..<newline])
                buffer.removeFirst(newline + 1)
                if line.last == 0x0D { line.removeLast() }
                number += 1
                return line
            }
            guard buffer.count <= maxLength else { throw EnvelopeError.malformed("armour line \(number + 1) is too long") }
            if atEnd {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = [] }
                number += 1
                return buffer
            }
            let more = try source.read(upTo: 4096)
            if more.isEmpty { atEnd = true } else { buffer += more }
        }
    }
}
