import Foundation
import GcryptKit
import Logging
import SealEnvelope
import SealPKI

/// Takes drops out of `inbox/new/` in the order of docs/SERVER.md: verify, store the blob
/// durably, commit one transaction per batch (image, envelope id, notification), then remove
/// the inbox files and append the notification log. A crash anywhere loses nothing: what was
/// not committed is still in the inbox, and what was committed is recognised when its inbox
/// file is seen again and is only then removed.
public final class Ingester: @unchecked Sendable {
    // Used by one thread at a time (the lock serialises processes; callers serialise calls).
    public let root: ServerRoot
    let catalogue: Catalogue
    let identity: RSAIdentity
    let authority: CertificateAuthority
    let policy: IngestPolicy
    let logger: Logger
    let blobs: BlobStore
    let quarantine: Quarantine
    let log: NotificationLog
    let registrar: Registrar
    let delivery: RSASigner

    /// What one run did.
    public struct Report: Sendable {
        public var accepted = 0
        public var registered = 0
        public var quarantined = 0
        public var alreadyIngested = 0
        public var answered = 0
    }

    public init(root: ServerRoot, passphrase: SecretBytes, policy: IngestPolicy = IngestPolicy(), logger: Logger) throws {
        self.root = root
        self.policy = policy
        self.logger = logger
        catalogue = try root.catalogue()
        authority = try root.authority(passphrase: passphrase)
        identity = RSAIdentity(key: try KeyFile.readPrivateKey(at: root.encryptionKeyPath, passphrase: passphrase))
        guard try root.encryptionCertificate().publicKey == identity.key.publicKey else {
            throw PKIError.certificateRejected("encryption.key does not match encryption.crt")
        }
        blobs = BlobStore(directory: root.blobs)
        quarantine = Quarantine(root: root)
        log = NotificationLog(path: root.notificationLogPath)
        registrar = Registrar(root: root, catalogue: catalogue, authority: authority)
        delivery = try RSASigner(
            key: KeyFile.readPrivateKey(at: root.deliveryKeyPath, passphrase: passphrase),
            certificate: Certificate(pem: KeyFile.readText(root.deliveryCertificatePath)))
    }

    /// Processes everything in the inbox, batch by batch, until it is empty or `shouldStop`
    /// says so (checked between batches, so the batch in hand always finishes).
    public func runUntilEmpty(shouldStop: () -> Bool = { false }) throws -> Report {
        var report = Report()
        try log.catchUp(from: catalogue)
        expireOutboxes()
        while !shouldStop() {
            let lock = try IngestLock(path: root.lockPath)
            let names = try Inbox.pending(root.inboxNew, limit: policy.batchSize)
            if names.isEmpty { break }
            try process(names, into: &report)
            withExtendedLifetime(lock) {}
        }
        return report
    }

    /// One batch: the files verified and stored on every core at once (RSA unwrapping is the
    /// cost), then one transaction for all of them.
    func process(_ names: [String], into report: inout Report) throws {
        // Registrations are examined in drop order, below, so the first request for a name wins.
        let verdicts = VerdictSlots(count: names.count)
        DispatchQueue.concurrentPerform(iterations: names.count) { index in
            verdicts.set(index, Result { try examine(names[index], registrations: false) })
        }
        var accepted: [(name: String, record: ImageRecord)] = []
        for (name, verdict) in zip(names, verdicts.all) {
            var outcome = try verdict.get()
            if case .deferred = outcome { outcome = try examine(name, registrations: true) }
            switch outcome {
            case .image(let record):
                accepted.append((name, record))
            case .answered(let requester, let image):
                try remove(name)
                report.answered += 1
                logger.info("answered", metadata: ["file": "\(name)", "requester": "\(requester)", "image": "\(image)"])
            case .registered(let user):
                try remove(name)
                report.registered += 1
                logger.info("registered", metadata: ["file": "\(name)", "user": "\(user)"])
            case .alreadyIngested:
                try remove(name)
                report.alreadyIngested += 1
                logger.info("already ingested", metadata: ["file": "\(name)"])
            case .rejected(let reason, let sender, let id, let told):
                try quarantine.reject(name, reason: reason, sender: sender, envelopeID: id, senderReason: told)
                report.quarantined += 1
                logger.warning("quarantined", metadata: ["file": "\(name)", "reason": "\(reason)", "sender": "\(sender ?? "-")"])
            case .vanished, .deferred:
                break
            }
        }
        guard !accepted.isEmpty else { return }
        let refused = try catalogue.record(accepted.map(\.record))
        for (index, (name, record)) in accepted.enumerated() {
            if let refusal = refused[index] {
                let reason = switch refusal {
                case .replay: "replay: envelope id already seen"
                case .nameOwnedBy(let owner): "the name \"\(record.name)\" belongs to \(owner)"
                }
                try discardUnreferencedBlob(record.blob)
                try quarantine.reject(name, reason: reason, sender: record.owner, envelopeID: record.envelopeID)
                report.quarantined += 1
                logger.warning("quarantined", metadata: ["file": "\(name)", "reason": "\(reason)", "sender": "\(record.owner)"])
            } else {
                try remove(name)
                report.accepted += 1
                logger.info("accepted", metadata: [
                    "file": "\(name)", "name": "\(record.name)", "owner": "\(record.owner)",
                    "media_type": "\(record.mediaType)", "size": "\(record.size)", "blob": "\(record.blob)",
                ])
            }
        }
        try log.catchUp(from: catalogue)
    }

    enum Verdict {
        case image(ImageRecord)
        case registered(String)
        case answered(requester: String, image: String)
        case alreadyIngested
        case rejected(reason: String, sender: String?, envelopeID: [UInt8]?, told: String?)
        case vanished
        /// A registration, left for the sequential pass.
        case deferred
    }

    /// Every authentication failure is reported to the sender in these same words.
    static let notVerified = "rejected: the envelope did not verify"

    func examine(_ name: String, registrations: Bool) throws -> Verdict {
        let path = "\(root.inboxNew)/\(name)"
        switch Inbox.classify(path, maximumBytes: policy.maximumBytes) {
        case .vanished: return .vanished
        case .refused(let why): return .rejected(reason: why, sender: nil, envelopeID: nil, told: nil)
        case .request: return registrations ? registrar.register(path) : .deferred
        case .envelope: return try examineEnvelope(path, name: name)
        }
    }

    func examineEnvelope(_ path: String, name: String) throws -> Verdict {
        let header: EnvelopeHeader
        do {
            header = try EnvelopeFiles.peekHeader(path, followSymlinks: false)
        } catch {
            return .rejected(reason: "unreadable envelope: \(error)", sender: nil, envelopeID: nil, told: nil)
        }
        let id = header.envelopeID
        guard let user = try catalogue.user(named: header.senderCertificate.subject.commonName ?? ""),
              user.certificate == header.senderCertificate.der
        else { return .rejected(reason: "unknown sender certificate", sender: nil, envelopeID: id, told: nil) }
        let sender = user.name
        func reject(_ reason: String, told: String? = nil) -> Verdict {
            .rejected(reason: reason, sender: sender, envelopeID: id, told: told)
        }
        if user.revokedAt != nil { return reject("sender \(sender) is revoked") }
        if let seenIn = try catalogue.seenInboxName(id) {
            // The same inbox file again means a crash came between commit and removal.
            return seenIn == name ? .alreadyIngested : reject("replay: envelope id already seen")
        }
        let age = Date().timeIntervalSince(header.createdDate)
        if age > policy.maximumAge { return reject("stale: created \(Int(age)) s ago, the window is \(Int(policy.maximumAge)) s") }
        if -age > policy.maximumFutureSkew { return reject("created \(Int(-age)) s in the future") }
        if header.kind == .message {
            guard header.mediaType == FetchRequest.mediaType else { return reject("unknown message type \(header.mediaType)") }
            return try answerFetch(path, name: name, sender: user, id: id)
        }
        if let existing = try catalogue.image(named: header.name), existing.owner != sender {
            return reject("the name \"\(header.name)\" belongs to \(existing.owner)")
        }
        let payloadLength: UInt64
        do {
            // Signature first (no key used), then the private key, then every MAC.
            var source = try FileSource(path: path, followSymlinks: false)
            let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority.certificate)
            try source.rewind()
            var sink = DiscardingSink()
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
            payloadLength = verified.payloadLength
        } catch {
            return reject("did not verify: \(error)", told: Self.notVerified)
        }
        let hash = try blobs.store(path)
        return .image(ImageRecord(
            name: header.name, owner: sender, mediaType: header.mediaType, width: Int(header.width), height: Int(header.height),
            size: Int(payloadLength), blob: hash, envelopeID: id, createdAt: header.createdDate, ingestedAt: Date(), inboxName: name))
    }

    /// Answers a fetch request (docs/SERVER.md, "Fetching"): the request is verified like any
    /// envelope, its small payload decrypted in memory, and the answer written to the
    /// requester's outbox: the owner's envelope untouched, and a signed statement with the
    /// content key re-wrapped for the requester. No plaintext of the image is produced.
    func answerFetch(_ path: String, name: String, sender: UserRecord, id: [UInt8]) throws -> Verdict {
        let request: FetchRequest
        do {
            var source = try FileSource(path: path, followSymlinks: false)
            let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority.certificate)
            guard verified.payloadLength <= UInt64(FetchRequest.maximumBytes) else { throw EnvelopeError.malformed("request too large") }
            try source.rewind()
            var sink = MemorySink()
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
            request = try JSONDecoder().decode(FetchRequest.self, from: Data(sink.bytes))
        } catch {
            return .rejected(reason: "did not verify: \(error)", sender: sender.name, envelopeID: id, told: Self.notVerified)
        }
        let requesterCertificate = try Certificate(der: sender.certificate)
        var owner: String?, blob: String?, problem: String?, contentKey: SecretBytes?
        if let image = try catalogue.image(named: request.image) {
            if try catalogue.user(named: image.owner)?.revokedAt != nil {
                problem = "the owner of \"\(request.image)\" (\(image.owner)) is revoked"
            } else {
                let header = try EnvelopeFiles.peekHeader(blobs.path(for: image.blob))
                contentKey = try EnvelopeReader.contentKey(of: header, identity: identity)
                (owner, blob) = (image.owner, image.blob)
            }
        } else {
            problem = "no image named \"\(request.image)\""
        }
        let statement = DeliveryStatement(
            requestID: id.hexString, requester: sender.name, requesterKey: requesterCertificate.publicKey.fingerprint.description,
            image: request.image, owner: owner, blob: blob, error: problem,
            time: NotificationLog.timeFormatter.string(from: Date()))
        let answer = try FetchAnswer.make(statement: statement, contentKey: contentKey, for: requesterCertificate.publicKey, signer: delivery)
        let outbox = root.outbox(for: sender.name)
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: true)
        if let blob {
            let copy = try FileSink(path: FetchAnswer.envelopePath(in: outbox, requestID: statement.requestID))
            var stored = try FileSource(path: blobs.path(for: blob), followSymlinks: false)
            while case let chunk = try stored.read(upTo: 1 << 20), !chunk.isEmpty { try copy.write(chunk) }
            try copy.commit(mode: 0o644, replace: true, durable: true)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(answer)), to: FetchAnswer.statementPath(in: outbox, requestID: statement.requestID), replace: true)
        _ = try catalogue.markSeen(id, sender: sender.name, inboxName: name)
        return .answered(requester: sender.name, image: request.image)
    }

    /// Removes fetch answers and rejection notes older than the policy's lifetime from every
    /// outbox: a client collects (and deletes) its answers; these are the ones never collected.
    func expireOutboxes(now: Date = Date()) {
        for user in (try? FileManager.default.contentsOfDirectory(atPath: root.outbox)) ?? [] {
            let outbox = root.outbox(for: user)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []
            where file.hasPrefix("answer-") || file.hasPrefix("rejected-") {
                let path = "\(outbox)/\(file)"
                if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                   now.timeIntervalSince(modified) > policy.outboxLifetime {
                    unlink(path)
                }
            }
        }
    }

    func remove(_ name: String) throws {
        guard unlink("\(root.inboxNew)/\(name)") == 0 || errno == ENOENT else {
            throw IOFailure(call: "unlink", path: "\(root.inboxNew)/\(name)", code: errno)
        }
        try AtomicFile.syncDirectory(root.inboxNew)
    }

    func discardUnreferencedBlob(_ hash: String) throws {
        guard try !catalogue.isBlobReferenced(hash) else { return }
        unlink(blobs.path(for: hash))
    }
}

/// Results filled in by concurrent workers, one slot each.
private final class VerdictSlots: @unchecked Sendable {
    // Each slot is written once, by one worker, under the lock.
    private let lock = NSLock()
    private var slots: [Result<Ingester.Verdict, Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ value: Result<Ingester.Verdict, Error>) { lock.withLock { slots[index] = value } }

    var all: [Result<Ingester.Verdict, Error>] { lock.withLock { slots.map { $0! } } }
}
