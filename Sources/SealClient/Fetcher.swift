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
    public let transport: any ServerTransport

    /// `secret` unlocks the user's key: its file's passphrase, or its token's PIN.
    public init(profile: Profile, secret: SecretBytes) throws {
        try self.init(profile: profile, key: profile.key(secret: secret))
    }

    /// With the user's key already unlocked (the gallery keeps it for its run).
    public init(profile: Profile, key: any RSA.PrivateOperations) throws {
        self.profile = profile
        signer = try RSASigner(key: key, certificate: profile.certificate())
        identity = RSAIdentity(key: key)
        authority = try profile.pinnedAuthority()
        encryption = try profile.encryptionCertificate()
        delivery = try profile.pinnedDeliveryCertificate()
        transport = try profile.transport(key: key)
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
        public let mediaType: String
        /// The owner's certificate the envelope's signature verified under (chained to the pinned CA).
        public let signer: Certificate
    }

    /// The notification log, read with this user's key (a gateway needs it).
    public func feed() throws -> NotificationFeed {
        try NotificationFeed(profile: profile, key: identity.key)
    }

    /// Sends a signed request for `image`; returns the request id (hex).
    public func request(_ image: String) throws -> String {
        let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: encryption.publicKey))
        return try transport.sendMessage(FetchRequest(image: image), name: FetchRequest.envelopeName, mediaType: FetchRequest.mediaType,
                                         sealer: sealer).envelopeID.hexString
    }

    /// Waits for the answer to `requestID`, verifies it, writes the image to `output`
    /// (temporary name, then rename) and removes the collected answer.
    public func receive(_ requestID: String, image: String, to output: String, timeout: Double, replace: Bool = false) throws -> Delivered {
        try receive(requestID, image: image, into: .file(output, replace: replace), timeout: timeout)
    }

    /// Where a fetched image goes: a file that appears only when complete and verified, or a
    /// stream (standard output) that receives it chunk by chunk once the whole envelope verified.
    public enum Destination: Sendable {
        case file(String, replace: Bool)
        case stream(StreamSink)

        var label: String {
            switch self {
            case .file(let path, _): path
            case .stream(let sink): sink.label
            }
        }
    }

    /// As `receive(_:image:to:...)`, into `destination`.
    public func receive(_ requestID: String, image: String, into destination: Destination, timeout: Double) throws -> Delivered {
        let user = profile.settings.user
        let statementName = Outbox.answerStatement(requestID: requestID)
        let envelopeName = Outbox.answerEnvelope(requestID: requestID)
        let deadline = Date().addingTimeInterval(timeout)
        var statement: [UInt8]?
        while true {
            // The statement is written last: once it is there, the envelope is too.
            statement = try transport.outboxFile(statementName, user: user, limit: FetchAnswer.maximumBytes)
            if statement != nil { break }
            // A request the server refused outright (a revoked sender): said at once.
            if let reason = try transport.collectRefusal(id: requestID, user: user) { throw Failure.refused(reason) }
            guard Date() < deadline else { throw Failure.timedOut(image, timeout) }
            usleep(useconds_t(transport.pollInterval * 1_000_000))
        }
        defer {
            try? transport.removeFromOutbox(statementName, user: user)
            try? transport.removeFromOutbox(envelopeName, user: user)
        }
        let answer = try JSONDecoder().decode(FetchAnswer.self, from: Data(statement!))
        let verified = try check(answer, requestID: requestID, image: image)
        guard let envelope = try transport.outboxCopy(envelopeName, user: user) else { throw EnvelopeError.tampered }
        defer { envelope.release() }
        return try open(answer, statement: verified, envelope: envelope.path, image: image, into: destination)
    }

    /// Verifies an answer kept in files (the statement, then the owner's envelope) and
    /// decrypts it into `output`.
    public func open(answerAt statementPath: String, envelope envelopePath: String, requestID: String, image: String,
                     to output: String, replace: Bool = false) throws -> Delivered {
        let answer = try JSONDecoder().decode(
            FetchAnswer.self, from: Data(KeyFile.readBytes(statementPath, limit: FetchAnswer.maximumBytes, followSymlinks: false)))
        return try open(answer, statement: check(answer, requestID: requestID, image: image), envelope: envelopePath, image: image,
                        into: .file(output, replace: replace))
    }

    /// The statement of an answer, checked: signed by the pinned delivery key, for this
    /// user's key, this request and this image, and not a refusal.
    func check(_ answer: FetchAnswer, requestID: String, image: String) throws -> DeliveryStatement {
        let statement = try answer.verifiedStatement(authority: authority, pinned: delivery)
        guard statement.requester == profile.settings.user, statement.requesterKey == identity.key.publicKey.fingerprint.description else {
            throw Failure.notForMe("it answers \(statement.requester), for another key")
        }
        guard statement.requestID == requestID, statement.image == image else {
            throw Failure.notForMe("it answers another request")
        }
        if let problem = statement.error { throw Failure.refused(problem) }
        return statement
    }

    /// Verifies the owner's envelope against the checked statement and decrypts it into `output`.
    func open(_ answer: FetchAnswer, statement: DeliveryStatement, envelope envelopePath: String, image: String,
              into destination: Destination) throws -> Delivered {
        guard let owner = statement.owner, let blob = statement.blob else { throw EnvelopeError.tampered }

        var source = try FileSource(path: envelopePath, followSymlinks: false)
        let verified = try EnvelopeReader.verify(&source, recipient: encryption.publicKey.fingerprint.digest.bytes, authority: authority)
        guard verified.header.name == image, verified.header.kind == .image,
              verified.header.senderCertificate.subject.commonName == owner
        else { throw EnvelopeError.tampered }
        try source.rewind()
        guard try source.sha256().hex == blob else { throw EnvelopeError.tampered }
        let contentKey: SecretBytes
        do {
            contentKey = try identity.key.decryptOAEP([UInt8](answer.wrappedKey), label: FetchAnswer.wrapLabel(statement: answer.statement))
        } catch {
            throw EnvelopeError.tampered
        }
        try source.rewind()
        switch destination {
        case .file(let output, let replace):
            try FileSink.create(output, replace: replace, durable: true) { sink in
                try EnvelopeReader.decrypt(verified, from: &source, to: &sink, contentKey: contentKey)
            }
        case .stream(var sink):
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, contentKey: contentKey)
        }
        return Delivered(image: image, owner: owner, created: verified.header.createdDate, bytes: verified.payloadLength,
                         output: destination.label, mediaType: verified.header.mediaType, signer: verified.header.senderCertificate)
    }
}
