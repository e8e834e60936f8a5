import Foundation
import GcryptKit
import SealPKI

/// Sealing and opening whole files: the sealer and reader behind temporary files, so an
/// output exists only when complete and verified.
public enum EnvelopeFiles {
    /// Seals `input` into `output` (created only on success).
    public static func seal(
        _ input: String, to output: String, with sealer: EnvelopeSealer, name: String? = nil, replace: Bool = false,
        armor: Bool = false
    ) throws -> SealSummary {
        var source = try FileSource(path: input)
        return try seal(from: &source, to: output, with: sealer, name: name ?? PathText.lastComponent(of: input),
                        replace: replace, armor: armor)
    }

    /// Seals what `source` yields (a file, or standard input) into `output`, created only on success.
    public static func seal(
        from source: inout some ByteSource, to output: String, with sealer: EnvelopeSealer, name: String,
        replace: Bool = false, armor: Bool = false
    ) throws -> SealSummary {
        try FileSink.create(output, replace: replace, durable: false, armor: armor) { sink in
            try sealer.seal(from: &source, to: &sink, name: name)
        }
    }

    /// What opening produced.
    public struct Opened: Sendable {
        public let header: EnvelopeHeader
        public let payloadLength: UInt64
    }

    /// The clear header of `envelope`, unverified: enough to name its output.
    public static func peekHeader(_ envelope: String, followSymlinks: Bool = true) throws -> EnvelopeHeader {
        var source = try reading(envelope, followSymlinks: followSymlinks)
        return try EnvelopeHeader.read(from: &source)
    }

    /// An envelope file to read: the file itself, or, when it holds armour (§12), its
    /// decoded bytes in a spool.
    public static func reading(_ path: String, followSymlinks: Bool = true) throws -> FileSource {
        var file = try FileSource(path: path, followSymlinks: followSymlinks)
        let prefix = try file.read(upTo: Armor.begin.count)
        try file.rewind()
        guard Armor.isArmoured(prefix) else { return file }
        return try Spool.fill(label: path) { try Armor.decode(from: &file, to: &$0) }
    }

    /// Standard input as an envelope, binary or armour, kept in a spool so that it can be
    /// verified before a byte is decrypted.
    public static func readingStandardInput() throws -> FileSource {
        var input = StreamSource.standardInput
        let prefix = try input.read(upTo: Armor.begin.count)
        var source = PrefixedSource(prefix: prefix, base: input)
        if Armor.isArmoured(prefix) {
            return try Spool.fill(label: input.label) { try Armor.decode(from: &source, to: &$0) }
        }
        return try Spool.copy(from: &source, label: input.label)
    }

    /// Verifies `envelope` (recipient, sender certificate against `authority`, signature),
    /// then decrypts it into `output`, which appears only when every check has passed.
    public static func open(
        _ envelope: String, to output: String, identity: any Identity, authority: Certificate,
        replace: Bool = false, now: Date = Date()
    ) throws -> Opened {
        try open(envelope, identity: identity, authority: authority, replace: replace, now: now) { _ in output }
    }

    /// As `open(_:to:...)`, with the output path chosen from the verified header (its name),
    /// in `folder` when it is known before (its room is then made while the envelope is
    /// verified: `OutputRoom`).
    public static func open(
        _ envelope: String, identity: any Identity, authority: Certificate, replace: Bool = false, now: Date = Date(),
        folder: String? = nil, output: (EnvelopeHeader) throws -> String
    ) throws -> Opened {
        var source = try reading(envelope)
        return try open(&source, identity: identity, authority: authority, replace: replace, now: now, folder: folder, output: output)
    }

    /// As `open(_:identity:...output:)`, from an envelope already open for reading.
    public static func open(
        _ source: inout FileSource, identity: any Identity, authority: Certificate, replace: Bool = false,
        now: Date = Date(), folder: String? = nil, output: (EnvelopeHeader) throws -> String
    ) throws -> Opened {
        // The envelope's size is more than its payload's (the payload is known once verified).
        let room = folder.flatMap { OutputRoom(directory: $0, byteCount: UInt64(source.size)) }
        let verified = try EnvelopeReader.verify(&source, recipient: try identity.fingerprint, authority: authority, now: now)
        try source.rewind()
        try FileSink.create(try output(verified.header), replace: replace, durable: false, room: room) { sink in
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
        }
        return Opened(header: verified.header, payloadLength: verified.payloadLength)
    }

    /// Verifies the envelope in `source` completely, then decrypts it into `sink` (standard
    /// output): each chunk's tag is checked before its plaintext is written.
    public static func open(
        _ source: inout FileSource, to sink: inout some ByteSink, identity: any Identity, authority: Certificate,
        now: Date = Date()
    ) throws -> Opened {
        let verified = try EnvelopeReader.verify(&source, recipient: try identity.fingerprint, authority: authority, now: now)
        try source.rewind()
        try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
        return Opened(header: verified.header, payloadLength: verified.payloadLength)
    }
}
