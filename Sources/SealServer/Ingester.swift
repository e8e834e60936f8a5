import DropProtocol
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
    // Driven by one thread at a time (the lock serialises processes; callers serialise
    // calls). Within a run, a batch is examined on other threads while the one before is
    // settled: examining changes nothing here but files of its own claims, the outboxes and
    // the catalogue (whose writes GRDB serialises).
    public let root: ServerRoot
    let catalogue: Catalogue
    /// The encryption key, remembering batch keys: a batch of envelopes costs one unwrap.
    public let identity: BatchKeyCache
    let authority: CertificateAuthority
    let policy: IngestPolicy
    let logger: Logger
    let blobs: BlobStore
    let quarantine: Quarantine
    let queue: WorkQueue
    /// Inbox entries that could not be moved out (a directory another user owns).
    var stuck: Set<RawName> = []
    private var lastOutboxExpiry = Date.distantPast
    /// Whether this process has removed the temporaries a killed one left in quarantine/.
    private var quarantineSwept = false
    /// This node's name among the server's (a host name and a realpath: looked up once).
    private lazy var nodeName = root.nodeName
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

    /// `secret` unlocks the root's keys: the passphrase of its key files, or its token's PIN.
    public init(root: ServerRoot, secret: SecretBytes, policy: IngestPolicy = IngestPolicy(), logger: Logger) throws {
        self.root = root
        self.policy = policy
        self.logger = logger
        catalogue = try root.catalogue()
        let keys = try root.privateKeys([root.caKeyPath, root.encryptionKeyPath, root.deliveryKeyPath], secret: secret)
        authority = try CertificateAuthority(certificate: root.authorityCertificate(), key: keys[0])
        let key = keys[1]
        guard try root.encryptionCertificate().publicKey == key.publicKey else {
            throw PKIError.certificateRejected("the encryption key does not match encryption.crt")
        }
        identity = BatchKeyCache(RSAIdentity(key: key))
        try root.makeLayout()
        blobs = BlobStore(directory: root.blobs)
        quarantine = Quarantine(root: root)
        queue = WorkQueue(directory: root.work, inbox: try DropDirectory(root.inboxNew))
        log = NotificationLog(path: root.notificationLogPath)
        registrar = Registrar(root: root, catalogue: catalogue, authority: authority)
        delivery = try RSASigner(key: keys[2], certificate: root.deliveryCertificate())
    }

    /// Processes everything in the inbox, batch by batch, until it is empty or `shouldStop`
    /// says so (checked between batches, so the batch in hand always finishes). A failure of
    /// one drop quarantines that drop; only the server's own failures (a full disk, the
    /// database) end the run, and they leave every drop where it was.
    public func runUntilEmpty(shouldStop: () -> Bool = { false }) throws -> Report {
        var report = Report()
        try log.catchUp(from: catalogue, signer: delivery)
        // Lifetimes are hours: a look at every outbox once a minute is enough, and keeps a
        // watch daemon's every wake-up from costing a walk of every user's outbox.
        if Date().timeIntervalSince(lastOutboxExpiry) > 60 {
            expireOutboxes()
            lastOutboxExpiry = Date()
        }
        // Superseded blobs a crash left between a commit and their removal.
        try catalogue.collectBlobGarbage(blobs.remove)
        // Pipelined: while one batch is made durable and committed (mostly waiting on the
        // disk), the next is claimed and examined on the other cores. Its checks against the
        // catalogue (replay, a name's owner) are made again by the commit, which refuses what
        // the batch before took meanwhile; everything else a batch needs was committed before
        // its drops could be made (a registration's answer, a notification for a fetch).
        // The lock is held from claiming a batch to settling it, so while a batch is claimed
        // ahead it is kept from one batch to the next: another process would take those
        // claims for its own. It is let go whenever nothing is claimed ahead.
        var examined: (items: [WorkQueue.Item], examined: Examined)?
        var lock: IngestLock?
        defer { withExtendedLifetime(lock) {} }
        while true {
            if lock == nil { lock = try IngestLock(path: root.lockPath) }
            if examined == nil {
                if shouldStop() { break }
                let items = try nextBatch(into: &report)
                if items.isEmpty { break }
                // Nothing commits meanwhile: a lone drop's head can be signed ahead.
                examined = (items, examine(items, signAhead: true))
            }
            let (items, current) = examined!
            examined = nil
            let next = shouldStop() ? [] : try nextBatch(into: &report, inFlight: items)
            nonisolated(unsafe) var nextExamined = Examined(verdicts: [], signedAhead: nil)
            let examining = DispatchGroup()
            if !next.isEmpty {
                DispatchQueue.global().async(group: examining) { nextExamined = self.examine(next) }
            }
            do {
                try settle(items, current, into: &report)
            } catch {
                // Its claims stay for the next run, examined or not.
                examining.wait()
                throw error
            }
            examining.wait()
            if next.isEmpty { lock = nil } else { examined = (next, nextExamined) }
        }
        return report
    }

    /// Tells the catalogue how this node is doing, for `server status` on any node of the
    /// server: its inbox backlog, its quarantine, how far its log has caught up.
    public func reportNode() throws {
        // A root on SQLite is its server's only node: nothing to tell, nothing to look at.
        guard catalogue.isShared else { return }
        let head = try? LogHead.read(at: log.headPath)
        try catalogue.report(NodeReport(
            name: nodeName, seenAt: Date(), inboxBacklog: (try? FileManager.default.contentsOfDirectory(atPath: root.inboxNew).count) ?? 0,
            quarantined: quarantine.count(), logSeq: head?.position.seq ?? 0))
    }

    /// Claimed drops left by an earlier run first, then new ones claimed from the inbox,
    /// oldest first, up to the batch size. A drop an earlier process died examining in a batch
    /// is examined again, alone, in a batch of its own; one it died examining alone is
    /// quarantined here, so no drop can stop ingestion by crashing it, and a kill that hit
    /// innocent drops in a batch costs them nothing.
    func nextBatch(into report: inout Report, inFlight: [WorkQueue.Item] = []) throws -> [WorkQueue.Item] {
        let inbox = queue.inbox
        let (recovered, interrupted, diedAlone, held) = try queue.recover(
            inFlight: inFlight, quarantined: { FileManager.default.fileExists(atPath: "\(self.root.quarantine)/\($0)") })
        // Once a process: only a process killed before this one leaves them.
        if !quarantineSwept {
            quarantine.removeTemporaries()
            quarantineSwept = true
        }
        // A claim with envelopes committed under it was examined to the end once: a kill, not
        // the drop, stopped its second look, which it gets again (to be released).
        var pending = recovered, suspects: [WorkQueue.Item] = []
        for item in interrupted + diedAlone {
            if try catalogue.hasEnvelopes(fromClaim: item.id) {
                queue.unmark(item)
                pending.append(item)
            } else if item.retry {
                suspects.append(item)
            } else {
                pending.append(queue.makeRetry(item))
            }
        }
        pending.sort { $0.id < $1.id }
        for item in suspects {
            try reject(item, reason: "the server stopped twice while examining this drop, the second time with nothing else (a crash "
                + "or a kill); set aside so that it cannot stop ingestion again (sealdrop server requeue ROOT \(item.id) puts it back)",
                into: &report)
        }
        try queue.release(suspects)
        if let retry = pending.first(where: \.retry) { return [retry] }
        // The batch size counts envelopes: a bundle weighs as many as it carries.
        var batch: [WorkQueue.Item] = []
        var envelopes = 0, bytes = 0
        var full: Bool { envelopes >= policy.batchSize || bytes >= policy.batchBytes }
        for item in pending where !full {
            batch.append(item)
            envelopes += item.envelopeCount
            bytes += item.size
        }
        var claimed: [WorkQueue.Item] = []
        var failure: Error?
        let (names, overQuota) = try Inbox.pending(
            inbox, limit: max(0, policy.batchSize - envelopes), skipping: stuck.union(held), bytesPerUser: policy.maximumPendingBytesPerUser)
        for name in overQuota {
            let reason = "its sender has more than \(policy.maximumPendingBytesPerUser) bytes waiting in the inbox; refused unread"
            try quarantine.refuseUnread(name, in: inbox, reason: reason)
            report.quarantined += 1
            logger.warning("refused", metadata: ["file": "\(name.display)", "reason": "\(reason)"])
        }
        for name in names where !full {
            do {
                switch try queue.claim(name, from: inbox, maximumBytes: policy.maximumBytes) {
                case .claimed(let item):
                    claimed.append(item)
                    envelopes += item.envelopeCount
                    bytes += item.size
                case .unfit(let reason):
                    if try quarantine.rejectUnread(name, in: inbox, reason: reason) {
                        report.quarantined += 1
                        logger.warning("quarantined", metadata: ["file": "\(name.display)", "reason": "\(reason)"])
                    } else {
                        stuck.insert(name)
                        logger.error("cannot move a drop out of the inbox; skipping it", metadata: [
                            "file": "\(name.display)", "reason": "\(reason)"])
                    }
                case .vanished:
                    break
                }
            } catch {
                // The server's own failure (a full disk): the drop stays in the inbox for later.
                failure = error
                break
            }
        }
        try queue.commit(claimed)
        batch += claimed
        if batch.isEmpty, let failure { throw failure }
        if let failure {
            logger.error("claiming drops failed; the rest wait in the inbox", metadata: ["error": "\(failure)"])
        }
        return batch
    }

    /// One batch: the drops examined on every core at once (RSA unwrapping is the cost), then
    /// one transaction for all the images among them. A bundle's envelopes (FORMAT.md §13) are
    /// examined, stored and refused one by one, and its claim goes once all have a verdict.
    func process(_ items: [WorkQueue.Item], into report: inout Report) throws {
        try settle(items, examine(items, signAhead: true), into: &report)
    }

    /// A batch examined: each drop's verdicts (a bundle's, one per envelope), and perhaps the
    /// log's next head, signed ahead.
    struct Examined {
        let verdicts: [[Verdict]]
        let signedAhead: HeadSigning?
    }

    /// Each drop's verdicts, examined on every core. Registrations are left for `settle`, in
    /// drop order, so the first request for a name wins.
    ///
    /// With `signAhead` (nothing else commits before this batch), a batch of one envelope has
    /// the log's next head signed on another thread as soon as the envelope's signature has
    /// verified, beside the unwrap of its key: the line its commit will add is known by then
    /// (Catalogue.notification). One post then waits for one RSA operation's time, not two.
    /// The signed head is used only if the commit comes to that very position; it is
    /// discarded when the envelope is refused or another node commits first.
    func examine(_ items: [WorkQueue.Item], signAhead: Bool = false) -> Examined {
        if signAhead, items.count == 1, items[0].members == nil {
            var ahead: HeadSigning?
            let verdict = guardedExamine(items[0], registrations: false) { image in
                guard let last = try? self.catalogue.notificationPosition() else { return }
                ahead = HeadSigning(Catalogue.notification(for: image, after: last).position, signer: self.delivery)
            }
            return Examined(verdicts: [[verdict]], signedAhead: ahead)
        }
        let singles = items.indices.filter { items[$0].members == nil }
        var verdicts = [[Verdict]](repeating: [], count: items.count)
        for (index, verdict) in zip(singles, singles.concurrentMap { self.guardedExamine(items[$0], registrations: false) }) {
            verdicts[index] = [verdict.get()]
        }
        for index in items.indices {
            if let members = items[index].members { verdicts[index] = examineBundle(items[index], members) }
        }
        return Examined(verdicts: verdicts, signedAhead: nil)
    }

    /// The rest of a batch, in order: registrations, blobs made durable, one commit, the
    /// log, the claims released, the senders told.
    func settle(_ items: [WorkQueue.Item], _ examined: Examined, into report: inout Report) throws {
        var accepted: [(item: WorkQueue.Item, member: Int?, record: ImageRecord)] = []
        var postponed: Error?
        // Claims kept for a later run: some envelope of theirs met the server's own failure.
        var unsettled: Set<String> = []
        var reaccepted: [(item: WorkQueue.Item, acceptance: Acceptance)] = []
        for (item, outcomes) in zip(items, examined.verdicts) {
            for (position, verdict) in outcomes.enumerated() {
                let member = item.members == nil ? nil : position
                var outcome = verdict
                if case .deferred = outcome { outcome = guardedExamine(item, registrations: true) }
                switch outcome {
                case .image(let record):
                    accepted.append((item, member, record))
                case .answered(let requester, let image):
                    report.answered += 1
                    logger.info("answered", metadata: ["file": "\(item.file)", "id": "\(item.id)", "requester": "\(requester)", "image": "\(LogText.escaped(image))"])
                case .registered(let user):
                    report.registered += 1
                    logger.info("registered", metadata: ["file": "\(item.file)", "id": "\(item.id)", "user": "\(user)"])
                case .alreadyIngested(let acceptance):
                    report.alreadyIngested += 1
                    // Told again: the kill that brought the claim back may have come before the sender was.
                    if let acceptance { reaccepted.append((item, acceptance)) }
                    logger.info("already ingested", metadata: ["file": "\(item.file)", "id": "\(item.id)"])
                case .rejected(let reason, let sender, let id, let told):
                    try reject(item, member: member, reason: reason, sender: sender, envelopeID: id, told: told, into: &report)
                case .postponed(let error):
                    postponed = error
                    unsettled.insert(item.id)
                case .deferred:
                    break
                }
            }
        }
        var newlyAccepted: [(item: WorkQueue.Item, acceptance: Acceptance)] = []
        // The log's next head is signed on another thread while the blobs, the commit and the
        // log's line are made durable.
        var signing: HeadSigning?
        if !accepted.isEmpty {
            let refused: [Int: Catalogue.Refusal]
            do {
                // The batch's blobs are durable before the rows that name them commit; if they
                // cannot be made so (a disk error), nothing commits, and the images wait,
                // claimed, for a later run.
                refused = try catalogue.record(accepted.map(\.record), blobs: blobs) { position in
                    if let position {
                        signing = examined.signedAhead?.position == position ? examined.signedAhead : HeadSigning(position, signer: delivery)
                    }
                    do {
                        try blobs.sync(accepted.map(\.record.blob))
                    } catch {
                        throw BlobsNotDurable(underlying: error)
                    }
                }
            } catch let failure as BlobsNotDurable {
                postponed = failure.underlying
                unsettled.formUnion(accepted.map(\.item.id))
                accepted = []
                refused = [:]
            }
            // Versions these replaced: their blobs go now that the new rows are committed.
            defer { _ = try? catalogue.collectBlobGarbage(blobs.remove) }
            for (index, (item, member, record)) in accepted.enumerated() {
                if let refusal = refused[index] {
                    let reason = switch refusal {
                    case .replay: "replay: envelope id already seen"
                    case .nameOwnedBy(let owner): "the name \"\(record.name)\" belongs to \(owner)"
                    }
                    try reject(item, member: member, reason: reason, sender: record.owner, envelopeID: record.envelopeID, into: &report)
                } else {
                    report.accepted += 1
                    newlyAccepted.append((item, Acceptance(name: record.name, owner: record.owner, envelopeID: record.envelopeID)))
                    logger.info("accepted", metadata: [
                        "file": "\(item.file)", "id": "\(item.id)", "name": "\(LogText.escaped(record.name))", "owner": "\(record.owner)",
                        "media_type": "\(record.mediaType)", "size": "\(record.size)", "blob": "\(record.blob)",
                    ])
                }
            }
        }
        // The notification first, for the followers waiting for it; then each sender is told,
        // then the claims go. A kill before they go leaves them for the next run, which finds
        // them ingested already and tells their senders again.
        try log.catchUp(from: catalogue, signer: delivery, presigned: signing)
        noteAcceptances(reaccepted + newlyAccepted)
        try queue.release(items.filter { !unsettled.contains($0.id) })
        if let postponed { throw postponed }
    }

    private func reject(
        _ item: WorkQueue.Item, member: Int? = nil, reason: String, sender: String? = nil, envelopeID: [UInt8]? = nil,
        told: String? = nil, into report: inout Report
    ) throws {
        // A copy stored by an earlier attempt that crashed before its commit is no blob of anyone's.
        try discardUnreferencedBlob(member.flatMap { item.members?[$0].sha256 } ?? item.sha256)
        try quarantine.reject(item, member: member, from: queue, reason: reason, sender: sender, envelopeID: envelopeID, senderReason: told)
        report.quarantined += 1
        logger.warning("quarantined", metadata: [
            "file": "\(item.file)", "id": "\(item.quarantineID(member: member))", "reason": "\(LogText.escaped(reason))",
            "sender": "\(sender ?? "-")"])
    }

    /// Examines a bundle's envelopes on every core, with the bundle's examining mark set (a
    /// crash inside sets the whole bundle aside), then stores the accepted ones, mark removed.
    func examineBundle(_ item: WorkQueue.Item, _ members: [WorkQueue.Member]) -> [Verdict] {
        let file: FileSource
        do {
            file = try FileSource(path: queue.dropPath(item.id), followSymlinks: false)
        } catch {
            return members.map { _ in .postponed(error) }
        }
        queue.markExamining(item)
        let verdicts = members.concurrentMap { member in
            self.verdict { try self.examineEnvelope(item, bytes: FileWindow(file, range: member.range), hash: member.sha256, inBundle: true) }
        }.map { $0.get() }
        queue.unmark(item)
        return members.indices.concurrentMap { index in
            guard case .image = verdicts[index] else { return verdicts[index] }
            do {
                try self.blobs.store(FileWindow(file, range: members[index].range), hash: members[index].sha256)
                return verdicts[index]
            } catch {
                return .postponed(error)
            }
        }.map { $0.get() }
    }

    /// What examining came to: whatever it throws becomes the quarantine reason, except the
    /// server's own transient failures, which leave the drop for a later run.
    func verdict(_ examine: () throws -> Verdict) -> Verdict {
        do {
            return try examine()
        } catch where Transient.isTransient(error) {
            return .postponed(error)
        } catch {
            return .rejected(reason: "could not be examined: \(error)", sender: nil, envelopeID: nil, told: nil)
        }
    }

    /// Examines one drop with its examining mark set, so that a crash inside is blamed on it
    /// at the next start. Whatever it throws becomes its quarantine reason, except the
    /// server's own transient failures, which leave it for a later run.
    /// An accepted image's copy is then stored, still on this worker but after the mark is
    /// gone, so a crash while storing is never blamed on the drop.
    func guardedExamine(_ item: WorkQueue.Item, registrations: Bool, verified: ((ImageRecord) -> Void)? = nil) -> Verdict {
        queue.markExamining(item)
        let verdict = verdict { try examine(item, registrations: registrations, verified: verified) }
        queue.unmark(item)
        guard case .image = verdict else { return verdict }
        do {
            try blobs.adopt(queue.dropPath(item.id), hash: item.sha256)
            return verdict
        } catch {
            return .postponed(error)
        }
    }

    enum Verdict {
        case image(ImageRecord)
        case registered(String)
        case answered(requester: String, image: String)
        /// Committed by an earlier attempt at this claim that a kill stopped; for an image,
        /// what its sender is told.
        case alreadyIngested(Acceptance?)
        case rejected(reason: String, sender: String?, envelopeID: [UInt8]?, told: String?)
        /// A registration, left for the sequential pass.
        case deferred
        /// The server's own failure (a full disk): the drop stays claimed for a later run.
        case postponed(Error)
    }

    /// Every authentication failure is reported to the sender in these same words.
    static let notVerified = "rejected: the envelope did not verify"

    /// `verified` is told the image an envelope will be recorded as, once its signature has
    /// verified and before its key is unwrapped.
    func examine(_ item: WorkQueue.Item, registrations: Bool, verified: ((ImageRecord) -> Void)? = nil) throws -> Verdict {
        let path = queue.dropPath(item.id)
        switch try Inbox.classify(path) {
        case .refused(let why): return .rejected(reason: why, sender: nil, envelopeID: nil, told: nil)
        case .request: return registrations ? registrar.register(path) : .deferred
        case .envelope:
            let file = try FileSource(path: path, followSymlinks: false)
            return try examineEnvelope(item, bytes: FileWindow(file, range: 0..<item.size), hash: item.sha256, inBundle: false, verified: verified)
        }
    }

    /// One envelope: a drop of its own, or a member of a bundle (which carries images only).
    func examineEnvelope(
        _ item: WorkQueue.Item, bytes: FileWindow, hash: String, inBundle: Bool, verified signatureVerified: ((ImageRecord) -> Void)? = nil
    ) throws -> Verdict {
        let path = queue.dropPath(item.id)
        let name = item.id
        let header: EnvelopeHeader
        do {
            var source = bytes
            header = try EnvelopeHeader.read(from: &source)
        } catch {
            return .rejected(reason: "unreadable envelope: \(error)", sender: nil, envelopeID: nil, told: nil)
        }
        let id = header.envelopeID
        guard let user = try catalogue.registeredUser(presenting: header.senderCertificate, authority: authority.certificate)
        else { return .rejected(reason: "unknown sender certificate", sender: nil, envelopeID: id, told: nil) }
        let sender = user.name
        func reject(_ reason: String, told: String? = nil) -> Verdict {
            .rejected(reason: reason, sender: sender, envelopeID: id, told: told)
        }
        if user.revokedAt != nil { return reject("sender \(sender) is revoked") }
        let senderKey = header.senderCertificate.publicKey.fingerprint.description
        if let seenIn = try catalogue.seenInboxName(id, senderKey: senderKey) {
            // The same inbox file again means a crash came between commit and removal.
            guard seenIn == name else { return reject("replay: envelope id already seen") }
            return .alreadyIngested(header.kind == .image ? Acceptance(name: header.name, owner: sender, envelopeID: id) : nil)
        }
        let age = Date().timeIntervalSince(header.createdDate)
        if age > policy.maximumAge { return reject("stale: created \(Int(age)) s ago, the window is \(Int(policy.maximumAge)) s") }
        if -age > policy.maximumFutureSkew { return reject("created \(Int(-age)) s in the future") }
        if header.kind == .message {
            if inBundle { return reject("a bundle carries images only; a request travels as a drop of its own") }
            switch header.mediaType {
            case FetchRequest.mediaType: return try answerFetch(path, name: name, sender: user, id: id)
            case RenewalRequest.mediaType: return try renewCertificate(path, name: name, sender: user, id: id)
            default: return reject("unknown message type \(header.mediaType)")
            }
        }
        if let existing = try catalogue.image(named: header.name), existing.owner != sender {
            return reject("the name \"\(header.name)\" belongs to \(existing.owner)")
        }
        let image: ImageRecord
        do {
            // Signature first (no key used), then the private key, then every MAC.
            var source = bytes
            let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority.certificate)
            image = ImageRecord(
                name: header.name, owner: sender, mediaType: header.mediaType, width: Int(header.width), height: Int(header.height),
                size: Int(verified.payloadLength), blob: hash, envelopeID: id, createdAt: header.createdDate, ingestedAt: Date(),
                inboxName: name, senderKey: senderKey)
            signatureVerified?(image)
            source = bytes
            var sink = DiscardingSink()
            try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
        } catch {
            return reject("did not verify: \(error)", told: Self.notVerified)
        }
        return .image(image)
    }

    /// The payload of a message envelope (a request of a few hundred bytes), once its
    /// signature, then the server's key and every MAC, verified.
    func openMessage(_ path: String) throws -> [UInt8] {
        var source = try FileSource(path: path, followSymlinks: false)
        let verified = try EnvelopeReader.verify(&source, recipient: identity.fingerprint, authority: authority.certificate)
        guard verified.payloadLength <= UInt64(FetchRequest.maximumBytes) else { throw EnvelopeError.malformed("request too large") }
        try source.rewind()
        var sink = MemorySink()
        try EnvelopeReader.decrypt(verified, from: &source, to: &sink, identity: identity)
        return sink.bytes
    }

    /// Renews the sender's certificate for the key it already has (docs/SERVER.md,
    /// "Registration"): the signed request proves the key, the current certificate the name.
    func renewCertificate(_ path: String, name: String, sender: UserRecord, id: [UInt8]) throws -> Verdict {
        do {
            let request = try JSONDecoder().decode(RenewalRequest.self, from: Data(openMessage(path)))
            guard request.user == sender.name else { throw EnvelopeError.malformed("renewal for another user") }
        } catch {
            return .rejected(reason: "did not verify: \(error)", sender: sender.name, envelopeID: id, told: Self.notVerified)
        }
        let key = try Certificate(der: sender.certificate).publicKey
        try registrar.renew(sender.name, key: key)
        _ = try catalogue.markSeen(id, senderKey: key.fingerprint.description, sender: sender.name, inboxName: name)
        return .registered(sender.name)
    }

    /// Answers a fetch request (docs/SERVER.md, "Fetching"): the request is verified like any
    /// envelope, its small payload decrypted in memory, and the answer written to the
    /// requester's outbox: the owner's envelope untouched, and a signed statement with the
    /// content key re-wrapped for the requester. No plaintext of the image is produced.
    func answerFetch(_ path: String, name: String, sender: UserRecord, id: [UInt8]) throws -> Verdict {
        let request: FetchRequest
        do {
            request = try JSONDecoder().decode(FetchRequest.self, from: Data(openMessage(path)))
        } catch {
            return .rejected(reason: "did not verify: \(error)", sender: sender.name, envelopeID: id, told: Self.notVerified)
        }
        let requesterCertificate = try Certificate(der: sender.certificate)
        var owner: String?, blob: String?, problem: String?, contentKey: SecretBytes?
        let outbox = root.outbox(for: sender.name)
        let waiting = ((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []).filter { $0.hasPrefix("answer-") && $0.hasSuffix(".seal") }
        if waiting.count >= policy.maximumPendingAnswers {
            problem = "\(waiting.count) answers are waiting uncollected in your outbox; collect them (sealdrop fetch) before asking for more"
        } else if let image = try catalogue.image(named: request.image) {
            let ownerRecord = try catalogue.user(named: image.owner)
            if ownerRecord?.revokedAt != nil {
                problem = "the owner of \"\(request.image)\" (\(image.owner)) is revoked"
            } else {
                do {
                    // Ingested by another node of the server: the catalogue's copy comes here first.
                    guard try catalogue.restoreBlob(image.blob, into: blobs) else {
                        throw EnvelopeError.malformed("blob \(image.blob) is neither in \(blobs.directory) nor in the catalogue")
                    }
                    contentKey = try storedContentKey(image, ownerCertificate: ownerRecord?.certificate ?? [])
                    (owner, blob) = (image.owner, image.blob)
                } catch {
                    problem = "\"\(request.image)\" is unavailable on the server; its administrator has been told"
                    logger.error("stored image unusable", metadata: [
                        "image": "\(LogText.escaped(image.name))", "blob": "\(image.blob)", "error": "\(error)",
                        "hint": "run sealdrop server fsck ROOT"])
                }
            }
        } else {
            problem = "no image named \"\(request.image)\""
        }
        let statement = DeliveryStatement(
            requestID: id.hexString, requester: sender.name, requesterKey: requesterCertificate.publicKey.fingerprint.description,
            image: request.image, owner: owner, blob: blob, error: problem,
            time: LogTime.format(Date()))
        let answer = try FetchAnswer.make(statement: statement, contentKey: contentKey, for: requesterCertificate.publicKey, signer: delivery)
        try ServerRoot.makeDirectory(outbox, mode: ServerRoot.outboxMode)
        if let blob {
            // A hard link, not a copy: ten requests for a 32 MB image cost no disk.
            let target = FetchAnswer.envelopePath(in: outbox, requestID: statement.requestID)
            unlink(target)
            guard link(blobs.path(for: blob), target) == 0 else { throw IOFailure(call: "link", path: target, code: errno) }
            try AtomicFile.syncDirectory(outbox)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(answer)), to: FetchAnswer.statementPath(in: outbox, requestID: statement.requestID), replace: true)
        _ = try catalogue.markSeen(id, senderKey: requesterCertificate.publicKey.fingerprint.description, sender: sender.name, inboxName: name)
        return .answered(requester: sender.name, image: request.image)
    }

    /// The content key of a stored image, re-wrapped only once the blob is shown to be the
    /// envelope its catalogue row was verified from: same envelope id, name and owner
    /// certificate (a row pointing at another user's blob must never re-wrap that user's key).
    func storedContentKey(_ image: ImageRecord, ownerCertificate: [UInt8]) throws -> SecretBytes {
        let header = try EnvelopeFiles.peekHeader(blobs.path(for: image.blob), followSymlinks: false)
        guard header.envelopeID == image.envelopeID, header.name == image.name, header.senderCertificate.der == ownerCertificate else {
            throw EnvelopeError.malformed("blob \(image.blob) is not the envelope of its catalogue row")
        }
        return try EnvelopeReader.contentKey(of: header, identity: identity)
    }

    /// An accepted image, as its owner is told.
    struct Acceptance {
        let name: String
        let owner: String
        let envelopeID: [UInt8]
    }

    /// Tells each owner their images were accepted, for `post` waiting for its verdicts: an
    /// image that came alone gets `outbox/OWNER/accepted-ID.json` (its envelope id); those of
    /// one bundle, one `accepted-bundle-CLAIM.json` listing them (a file per image would cost
    /// the file system an inode each). Written after the commit, before the claims go, and
    /// not fsynced: the catalogue is the truth (a gateway reads verdicts from it), this is only
    /// the local client's news. A process killed before the claims go tells again at its next
    /// start; only a power cut that loses the unsynced note leaves those posts "not answered
    /// yet", never wrong.
    func noteAcceptances(_ accepted: [(item: WorkQueue.Item, acceptance: Acceptance)]) {
        struct Note: Encodable {
            let name: String
            let envelopeID: String
            enum CodingKeys: String, CodingKey {
                case name
                case envelopeID = "envelope_id"
            }
        }
        var bundles: [String: [String: [BundleAcceptance.Envelope]]] = [:]
        for (item, record) in accepted {
            let id = record.envelopeID.hexString
            if item.members != nil {
                bundles[item.id, default: [:]][record.owner, default: []].append(.init(name: record.name, envelopeID: id))
            } else {
                note(try? Quarantine.json(Note(name: record.name, envelopeID: id)), Outbox.acceptance(id: id), owner: record.owner)
            }
        }
        for (claim, owners) in bundles.sorted(by: { $0.key < $1.key }) {
            for (owner, envelopes) in owners {
                note(try? Quarantine.json(BundleAcceptance(envelopes: envelopes)), Outbox.bundleAcceptance(claim: claim), owner: owner)
            }
        }
    }

    /// Writes `json` to `outbox/OWNER/NAME`, complete or not at all.
    private func note(_ json: String?, _ name: String, owner: String) {
        let outbox = root.outbox(for: owner)
        guard let json, (try? ServerRoot.makeDirectory(outbox, mode: ServerRoot.outboxMode)) != nil,
              (try? FileSink.create("\(outbox)/\(name)", replace: true, durable: false, { try $0.write(Array(json.utf8)) })) != nil
        else {
            logger.warning("could not note the acceptance in the outbox", metadata: ["owner": "\(owner)", "note": "\(name)"])
            return
        }
    }

    /// Removes fetch answers, rejection and acceptance notes older than the policy's lifetime
    /// from every outbox: a client collects (and deletes) them; these are the ones never collected.
    func expireOutboxes(now: Date = Date()) {
        for user in (try? FileManager.default.contentsOfDirectory(atPath: root.outbox)) ?? [] {
            let outbox = root.outbox(for: user)
            for file in (try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []
            where file.hasPrefix("answer-") || file.hasPrefix("rejected-") || file.hasPrefix("accepted-") || AtomicFile.isTemporary(file) {
                // (A temporary is what a kill left of a note being written: it expires too.)
                let path = "\(outbox)/\(file)"
                if let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
                   now.timeIntervalSince(modified) > policy.outboxLifetime {
                    unlink(path)
                }
            }
        }
    }

    func discardUnreferencedBlob(_ hash: String) throws {
        guard try !catalogue.isBlobReferenced(hash) else { return }
        unlink(blobs.path(for: hash))
    }
}

/// The blobs of a batch could not be made durable: its commit is rolled back.
private struct BlobsNotDurable: Error {
    let underlying: Error
}
