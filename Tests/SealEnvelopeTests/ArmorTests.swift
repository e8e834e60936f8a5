import Foundation
import Testing
@testable import SealEnvelope

/// The ASCII armour of FORMAT.md §12: one encoding per envelope, anything else refused.
struct ArmorTests {
    func armour(_ bytes: [UInt8], writes: Int = 1) throws -> String {
        var sink = ArmoredSink(MemorySink())
        let step = max(1, bytes.count / writes)
        var index = 0
        repeat {
            let next = min(bytes.count, index + step)
            try sink.write(Array(bytes[index..<next]))
            index = next
        } while index < bytes.count
        try sink.finish()
        return String(decoding: sink.inner.bytes, as: UTF8.self)
    }

    func decode(_ text: String) throws -> [UInt8] {
        var source = MemorySource(Array(text.utf8))
        var sink = MemorySink()
        try Armor.decode(from: &source, to: &sink)
        return sink.bytes
    }

    @Test(arguments: [1, 2, 3, 47, 48, 49, 96, 1000, 4099])
    func roundTripInAnyPieces(count: Int) throws {
        let bytes = pattern(count)
        for writes in [1, 3, 7] {
            let text = try armour(bytes, writes: writes)
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first == "-----BEGIN SEALDROP ENVELOPE-----")
            #expect(lines.dropLast().last == "-----END SEALDROP ENVELOPE-----")
            #expect(lines.last == "")
            let body = lines.dropFirst().dropLast(2)
            #expect(body.dropLast().allSatisfy { $0.count == 64 })
            #expect((1...64).contains(body.last!.count))
            #expect(try decode(text) == bytes)
            #expect(try decode(text.replacingOccurrences(of: "\n", with: "\r\n")) == bytes, "CRLF lines")
        }
    }

    @Test func anEnvelopeRoundTripsThroughArmour() throws {
        let envelope = try sealInMemory(pattern(100_000))
        #expect(try openInMemory(try decode(try armour(envelope))) == pattern(100_000))
    }

    @Test func whitespaceAfterTheEndIsAllowedAndNothingElse() throws {
        let text = try armour(pattern(100))
        #expect(try decode(text + " \n\t\r\n") == pattern(100))
        #expect(throws: EnvelopeError.trailingData) { try decode(text + "x") }
        #expect(throws: EnvelopeError.trailingData) { try decode(text + "\n" + text) }
    }

    @Test func brokenArmourIsRefused() throws {
        let text = try armour(pattern(100))
        var lines = text.split(separator: "\n").map(String.init)
        func refused(_ changed: [String], _ comment: Comment) {
            #expect(throws: EnvelopeError.self, comment) { try decode(changed.joined(separator: "\n") + "\n") }
        }
        refused(Array(lines.dropLast()), "no END line")
        refused(Array(lines.dropFirst()), "no BEGIN line")
        refused([lines[0], lines.last!], "no body")
        var short = lines
        short[1] = String(short[1].dropLast(4))
        refused(short, "a short line before the last")
        var long = lines
        long[1] += String(long[2].prefix(4))
        long[2] = String(long[2].dropFirst(4))
        refused(long, "a line longer than 64")
        var bad = lines
        bad[1] = "*" + bad[1].dropFirst()
        refused(bad, "a character outside base64")
        var blank = lines
        blank.insert("", at: 2)
        refused(blank, "an empty line")
        // 100 bytes end with one byte in a group of four ("xx=="): its unused bits must be zero.
        let last = lines[lines.count - 2]
        #expect(last.hasSuffix("=="))
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let second = last[last.index(last.endIndex, offsetBy: -3)]
        let nonCanonical = alphabet[alphabet.firstIndex(of: second)! ^ 1]
        lines[lines.count - 2] = String(last.dropLast(3)) + String(nonCanonical) + "=="
        refused(lines, "non-zero padding bits")
    }

    @Test func overlongLinesAreRefusedWithoutReadingOn() throws {
        let text = "-----BEGIN SEALDROP ENVELOPE-----\n" + String(repeating: "A", count: 1 << 20)
        #expect(throws: EnvelopeError.self) { try decode(text) }
    }

    @Test func binaryIsNotArmour() throws {
        let envelope = try sealInMemory(pattern(10))
        #expect(!Armor.isArmoured(envelope))
        #expect(Armor.isArmoured(Array(try armour(envelope).utf8)))
    }
}
