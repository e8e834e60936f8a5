import Foundation
import GcryptKit
import SealPKI

/// What an envelope carries (FORMAT.md §2).
public enum EnvelopeKind: UInt8, Sendable, Codable, CustomStringConvertible {
    case image = 1
    /// Requests, answers and registrations between clients and the server.
    case message = 2

    public var description: String { self == .image ? "image" : "message" }
}

/// The cipher suites version 1 names (FORMAT.md §4). No others exist, and none is negotiated.
public enum Suite: UInt8, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case cbcHMAC = 1
    case gcm = 2

    public var description: String { self == .cbcHMAC ? "cbc-hmac" : "gcm" }

    public init?(name: String) {
        guard let suite = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = suite
    }

    /// Length of each chunk's tag.
    var tagLength: Int { self == .cbcHMAC ? 32 : 16 }
}

/// What the header's wrapped key is (FORMAT.md §2, §5): the envelope's own content key, or
/// a batch key shared by envelopes sealed together, from which each derives its own.
public enum KeyMode: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case single = 0
    case batch = 1

    public var description: String { self == .single ? "single" : "batch" }
}

/// The clear header of an envelope (FORMAT.md §2).
public struct EnvelopeHeader: Sendable, Equatable {
    public static let magic = Array("SEALDROP".utf8)
    public static let version: UInt8 = 1
    public static let maximumLength = 65_536
    public static let defaultChunkSize = 1 << 20
    static let fixedPrefixLength = 16

    public var kind: EnvelopeKind
    public var suite: Suite
    public var envelopeID: [UInt8]
    /// Milliseconds since the Unix epoch.
    public var created: UInt64
    public var chunkSize: Int
    /// SHA-256 of the recipient's SubjectPublicKeyInfo.
    public var recipient: [UInt8]
    public var keyCommitment: [UInt8]
    public var name: String
    public var mediaType: String
    public var width: UInt32
    public var height: UInt32
    public var senderCertificate: Certificate
    public var wrappedKey: [UInt8]
    public var keyMode: KeyMode = .single

    public var createdDate: Date { Date(timeIntervalSince1970: Double(created) / 1000) }

    /// The bytes of §2 from the magic through the sender certificate.
    func fieldBytes(headerLength: Int) -> [UInt8] {
        var w = ByteWriter()
        w.raw(Self.magic)
        w.u8(Self.version)
        w.u8(kind.rawValue)
        w.u8(suite.rawValue)
        w.u8(keyMode.rawValue)
        w.u32(UInt32(headerLength))
        w.raw(envelopeID)
        w.u64(created)
        w.u32(UInt32(chunkSize))
        w.raw(recipient)
        w.raw(keyCommitment)
        let nameBytes = Array(name.utf8)
        w.u16(UInt16(nameBytes.count))
        w.raw(nameBytes)
        let media = Array(mediaType.utf8)
        w.u8(UInt8(media.count))
        w.raw(media)
        w.u32(width)
        w.u32(height)
        w.u16(UInt16(senderCertificate.der.count))
        w.raw(senderCertificate.der)
        return w.bytes
    }

    var encodedLength: Int {
        Self.fixedPrefixLength + 16 + 8 + 4 + 32 + 32 + 2 + name.utf8.count + 1 + mediaType.utf8.count + 4 + 4
            + 2 + senderCertificate.der.count + 2 + wrappedKey.count
    }

    /// The fields, as the key schedule and OAEP label use them.
    public var fields: [UInt8] { fieldBytes(headerLength: encodedLength) }

    /// The whole header, wrapped key included.
    public var bytes: [UInt8] {
        var w = ByteWriter()
        w.raw(fields)
        w.u16(UInt16(wrappedKey.count))
        w.raw(wrappedKey)
        return w.bytes
    }

    /// Checks every §2 rule a writer must also obey.
    func validate() throws {
        guard envelopeID.count == 16, recipient.count == 32, keyCommitment.count == 32 else {
            throw EnvelopeError.malformed("id, recipient or key commitment has the wrong length")
        }
        guard chunkSize >= 1 << 16, chunkSize <= 1 << 24, chunkSize & (chunkSize - 1) == 0 else {
            throw EnvelopeError.malformed("chunk size \(chunkSize) is not a power of two from 64 KiB to 16 MiB")
        }
        try Self.validate(name: name)
        try MediaType.validate(mediaType, for: kind)
        // The exact length (the recipient's modulus) is checked by the opener, which knows its key.
        guard (256...1024).contains(wrappedKey.count) else { throw EnvelopeError.malformed("wrapped key length") }
        guard encodedLength <= Self.maximumLength else { throw EnvelopeError.malformed("header longer than 64 KiB") }
    }

    /// The name rules of §2: what a name may hold is defined here, scalar by scalar, not by
    /// any library's character classes.
    public static func validate(name: String) throws {
        if let broken = nameRuleBroken(name) { throw EnvelopeError.malformed("name \(broken)") }
    }

    /// Which §2 name rule `name` breaks, in words ("may not start with . or -"); nil if none.
    public static func nameRuleBroken(_ name: String) -> String? {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 255 else { return "must be 1 to 255 bytes" }
        guard let first = name.unicodeScalars.first, first != ".", first != "-" else { return "may not start with . or -" }
        for scalar in name.unicodeScalars where scalar == "/" || scalar == "\\" || forbiddenInNames(scalar) {
            return "may not contain /, \\, control, format or separator characters (U+\(hex(scalar)))"
        }
        // ASCII is NFC as it stands: only other names need the (costly) normalisation.
        guard bytes.allSatisfy({ $0 < 0x80 }) || normalizedName(name).utf8.elementsEqual(bytes) else { return "is not in Unicode NFC" }
        return nil
    }

    /// The scalars §2 forbids in names: C0 and C1 controls and DEL, and the invisible
    /// characters that reorder or hide text (soft hyphen, bidi and zero-width controls,
    /// line and paragraph separators, BOM, interlinear annotations, tags).
    static func forbiddenInNames(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0xAD, 0x61C, 0x180E, 0x200B...0x200F, 0x2028...0x202E, 0x2060...0x206F,
             0xFEFF, 0xFFF9...0xFFFB, 0xE0000...0xE007F:
            true
        default:
            false
        }
    }

    /// `name` in Unicode NFC: what a sealer writes, so that one name has one byte form.
    public static func normalizedName(_ name: String) -> String {
        name.precomposedStringWithCanonicalMapping
    }

    private static func hex(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Reads and checks a header from `source` (§2), leaving it positioned at the first chunk.
    public static func read(from source: inout some ByteSource) throws -> EnvelopeHeader {
        let prefix = try source.read(exactly: fixedPrefixLength, or: EnvelopeError.notAnEnvelope)
        guard Array(prefix[0..<8]) == magic else { throw EnvelopeError.notAnEnvelope }
        guard prefix[8] == version else { throw EnvelopeError.unsupportedVersion(prefix[8]) }
        var p = ByteReader(Array(prefix[9...]))
        guard let kind = EnvelopeKind(rawValue: try p.u8()) else { throw EnvelopeError.malformed("unknown kind") }
        guard let suite = Suite(rawValue: try p.u8()) else { throw EnvelopeError.malformed("unknown suite") }
        guard let keyMode = KeyMode(rawValue: try p.u8()) else { throw EnvelopeError.malformed("unknown key mode") }
        let length = Int(try p.u32())
        guard length > fixedPrefixLength, length <= maximumLength else { throw EnvelopeError.malformed("header length \(length)") }
        let rest = try source.read(exactly: length - fixedPrefixLength, or: EnvelopeError.truncated)
        var r = ByteReader(rest)
        do {
            let id = try r.raw(16)
            let created = try r.u64()
            let chunkSize = Int(try r.u32())
            let recipient = try r.raw(32)
            let commitment = try r.raw(32)
            guard let name = String(validating: try r.raw(Int(try r.u16())), as: UTF8.self) else {
                throw EnvelopeError.malformed("name is not UTF-8")
            }
            guard let media = String(bytes: try r.raw(Int(try r.u8())), encoding: .ascii) else {
                throw EnvelopeError.malformed("media type is not ASCII")
            }
            let width = try r.u32()
            let height = try r.u32()
            let certificate: Certificate
            do {
                certificate = try Self.senderCertificate(der: try r.raw(Int(try r.u16())))
            } catch let error as EnvelopeError {
                throw error
            } catch {
                throw EnvelopeError.malformed("sender certificate: \(error)")
            }
            let wrapped = try r.raw(Int(try r.u16()))
            guard r.remaining == 0 else { throw EnvelopeError.malformed("header length does not match its fields") }
            let header = EnvelopeHeader(
                kind: kind, suite: suite, envelopeID: id, created: created, chunkSize: chunkSize, recipient: recipient,
                keyCommitment: commitment, name: name, mediaType: media, width: width, height: height,
                senderCertificate: certificate, wrappedKey: wrapped, keyMode: keyMode)
            try header.validate()
            guard header.encodedLength == length else { throw EnvelopeError.malformed("header length does not match its fields") }
            return header
        } catch EnvelopeError.truncated {
            throw EnvelopeError.malformed("header length does not match its fields")
        }
    }
}

extension EnvelopeHeader {
    /// Certificates parsed lately, by their DER bytes: each envelope of a batch carries its
    /// sender's, and a reader reads each header more than once.
    private static let parsed = Locked([[UInt8]: Certificate]())

    /// `Certificate(der:)`, remembered for the few certificates a batch carries.
    static func senderCertificate(der: [UInt8]) throws -> Certificate {
        if let known = parsed.withLock({ $0[der] }) { return known }
        let certificate = try Certificate(der: der)
        parsed.withLock {
            if $0.count >= 64 { $0.removeAll() }
            $0[der] = certificate
        }
        return certificate
    }
}
