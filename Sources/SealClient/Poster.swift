import Foundation
import SealEnvelope
import DropProtocol

/// `sealdrop post`: seals an image to the server's encryption key and drops it into the
/// inbox the Maildir way (written in `tmp/`, fsynced, renamed into `new/`).
public struct Poster: Sendable {
    public let sealer: EnvelopeSealer
    public let server: ServerRoot

    public init(sealer: EnvelopeSealer, server: ServerRoot) {
        self.sealer = sealer
        self.server = server
    }

    /// Seals `image` under `name` into the inbox; returns the inbox file name.
    public func post(_ image: String, name: String) throws -> (inboxName: String, summary: SealSummary) {
        try EnvelopeHeader.validate(name: name)
        let inboxName = Inbox.uniqueName(suffix: ".seal")
        var source = try FileSource(path: image)
        var sink = try FileSink(path: "\(server.inboxTemporary)/\(inboxName)")
        let summary = try sealer.seal(from: &source, to: &sink, name: name)
        try sink.commit(mode: 0o644, durable: true)
        try Inbox.publish(inboxName, in: server)
        return (inboxName, summary)
    }
}
