import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import DropProtocol

/// `sealdrop fetch`: asks the server for an image by name with a signed request, waits for the
/// answer in the outbox, and checks everything before writing a byte: the server's signed
/// statement (against the pinned CA), the owner's certificate and signature over the image,
/// the key commitment and every MAC.
public struct Fetcher: Sendable {
    public let profile: Profile
    let signer: RSASigner
    let identity: RSAIdentity
    let authority: Certificate
    let encryption: Certificate
    let delivery: Certificate?

    public init(profile: Profile, passphrase: SecretBytes) throws {
        self.profile = profile
        let key = try KeyFile.readPrivateKey(at: profile.keyPath, passphrase: passphrase)
        signer = try RSASigner(key: key, certificate: profile.certificate())
        identity = RSAIdentity(key: key)
        authority = try profile.pinnedAuthority()
        encryption = try profile.encryptionCertificate()
        delivery = try profile.pinnedDeliveryCertificate()
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case refused(String)
        case timedOut(String, Double)
        case notForMe(String)

        public var description: String {
            switch self {
            case .refused(let reason): "the server cannot serve it: \(reason)"
            case .timedOut(let image, let seconds): "no answer for \"\(image)\" within \(Int(seconds)) s"
            case .notForMe(let why): "the answer is not for you: \(why)"
            }
        }
    }

    /// What a verified fetch delivered.
    public struct Delivered: Sendable {
        public let image: String
        public let owner: String
        public let created: Date
        public let bytes: UInt64
        public let output: String
    }

    /// Drops a signed request for `image`; returns the request id (hex).
    public func request(_ image: String) throws -> String {
        let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: encryption.publicKey))
        let payload = try JSONEncoder().encode(FetchRequest(image: image))
        let inboxName = Inbox.uniqueName(suffix: ".seal")
        var source = MemorySource([UInt8](payload))
        var sink = try FileSink(path: "\(profile.server.inboxTemporary)/\(inboxName)")
        let summary = try sealer.seal(from: &source, to: &sink, name: FetchRequest.envelopeName, kind: .message,
                                      mediaType: FetchRequest.mediaType)
        try sink.commit(mode: 0o644, durable: true)
        try Inbox.publish(inboxName, in: profile.server)
        return summary.envelopeID.hexString
    }

    /// Waits for the answer to `requestID`, verifies it, writes the image to `output`
    /// (temporary name, then rename) and removes the collected answer.
    public func receive(_ requestID: String, image: String, to output: String, timeout: Double, replace: Bool = false) throws -> Delivered {
        let outbox = profile.server.outbox(for: profile.settings.user)
        let statementPath = FetchAnswer.statementPath(in: outbox, requestID: requestID)
        let envelopePath = FetchAnswer.envelopePath(in: outbox, requestID: requestID)
        let deadline = Date().addingTimeInterval(timeout)
        while !FileManager.default.fileExists(atPath: statementPath) {
            guard Date() < deadline else { throw Failure.timedOut(image, timeout) }
            usleep(50_000)
        }
        defer {
            unlink(statementPath)
            unlink(envelopePath)
        }
        return try open(answerAt: statementPath, envelope: envelopePath, requestID: requestID, image: image, to: output, replace: replace)
    }

    /// Verifies an answer (statement, then the owner's envelope) and decrypts it into `output`.
    public func open(answerAt statementPath: String, envelope envelopePath: String, requestID: String, image: String,
                     to output: String, replace: Bool = false) throws -> Delivered {
        let answer = try JSONDecoder().decode(
            FetchAnswer.self, from: Data(KeyFile.readBytes(statementPath, limit: FetchAnswer.maximumBytes, followSymlinks: false)))
        let statement = try answer.verifiedStatement(authority: authority, pinned: delivery)
        guard statement.requester == profile.settings.user, statement.requesterKey == identity.key.publicKey.fingerprint.description else {
            throw Failure.notForMe("it answers \(statement.requester), for another key")
        }
        guard statement.requestID == requestID, statement.image == image else {
            throw Failure.notForMe("it answers another request")
        }
        if let problem = statement.error { throw Failure.refused(problem) }
        guard let owner = statement.owner, let blob = statement.blob else { throw EnvelopeError.tampered }

        var source = try FileSource(path: envelopePath, followSymlinks: false)
        let verified = try EnvelopeReader.verify(&source, recipient: encryption.publicKey.fingerprint.digest.bytes, authority: authority)
        guard verified.header.name == image, verified.header.kind == .image,
              verified.header.senderCertificate.subject.commonName == owner
        else { throw EnvelopeError.tampered }
        try source.rewind()
        var hasher = SHA256()
        while case let chunk = try source.read(upTo: 1 << 20), !chunk.isEmpty { hasher.update(data: chunk) }
        guard hasher.finalize().hex == blob else { throw EnvelopeError.tampered }
        let contentKey: SecretBytes
        do {
            contentKey = try identity.key.decryptOAEP([UInt8](answer.wrappedKey), label: FetchAnswer.wrapLabel(statement: answer.statement))
        } catch {
            throw EnvelopeError.tampered
        }
        try source.rewind()
        var sink = try FileSink(path: output)
        do {
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, contentKey: contentKey)
            try sink.commit(mode: 0o644, replace: replace, durable: true)
        } catch {
            sink.discard()
            throw error
        }
        return Delivered(image: image, owner: owner, created: verified.header.createdDate, bytes: verified.payloadLength, output: output)
    }
}
