import DropProtocol
import Foundation
import SealEnvelope

/// `sealdrop post`: seals an image to the server's encryption key and sends it as a drop
/// (into the inbox the Maildir way, or through the gateway).
public struct Poster: Sendable {
    public let sealer: EnvelopeSealer
    public let transport: any ServerTransport

    public init(sealer: EnvelopeSealer, transport: any ServerTransport) {
        self.sealer = sealer
        self.transport = transport
    }

    /// Seals `image` under `name` and sends it (an unusable name is refused before a byte is sent).
    public func post(_ image: String, name: String) throws -> SealSummary {
        var source = try FileSource(path: image)
        return try transport.sendSealed(&source, name: name, sealer: sealer)
    }

    /// SHA-256 of the file at `path` (hex): how a post's record knows an image again.
    public static func contentDigest(of path: String) throws -> String {
        var source = try FileSource(path: path)
        return try source.sha256().hex
    }
}
