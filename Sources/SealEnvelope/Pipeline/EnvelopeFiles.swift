import Foundation
import GcryptKit
import SealPKI

/// Sealing and opening whole files: the sealer and reader behind temporary files, so an
/// output exists only when complete and verified.
public enum EnvelopeFiles {
    /// Seals `input` into `output` (created only on success).
    public static func seal(
        _ input: String, to output: String, with sealer: EnvelopeSealer, name: String? = nil, replace: Bool = false
    ) throws -> SealSummary {
        var source = try FileSource(path: input)
        var sink = try FileSink(path: output)
        let summary = try sealer.seal(from: &source, to: &sink, name: name ?? PathText.lastComponent(of: input))
        try sink.commit(mode: 0o644, replace: replace, durable: false)
        return summary
    }

    /// What opening produced.
    public struct Opened: Sendable {
        public let header: EnvelopeHeader
        public let payloadLength: UInt64
    }

    /// The clear header of `envelope`, unverified: enough to name its output.
    public static func peekHeader(_ envelope: String, followSymlinks: Bool = true) throws -> EnvelopeHeader {
        var source = try FileSource(path: envelope, followSymlinks: followSymlinks)
        return try EnvelopeHeader.read(from: &source)
    }

    /// Verifies `envelope` (recipient, sender certificate against `authority`, signature),
    /// then decrypts it into `output`, which appears only when every check has passed.
    public static func open(
        _ envelope: String, to output: String, identity: any Identity, authority: Certificate,
        replace: Bool = false, now: Date = Date()
    ) throws -> Opened {
        try open(envelope, identity: identity, authority: authority, replace: replace, now: now) { _ in output }
    }

    /// As `open(_:to:...)`, with the output path chosen from the verified header (its name).
    public static func open(
        _ envelope: String, identity: any Identity, authority: Certificate, replace: Bool = false, now: Date = Date(),
        output: (EnvelopeHeader) throws -> String
    ) throws -> Opened {
        var source = try FileSource(path: envelope)
        let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority, now: now)
        try source.rewind()
        var sink = try FileSink(path: try output(verified.header))
        do {
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
            try sink.commit(mode: 0o644, replace: replace, durable: false)
        } catch {
            sink.discard()
            throw error
        }
        return Opened(header: verified.header, payloadLength: verified.payloadLength)
    }
}
