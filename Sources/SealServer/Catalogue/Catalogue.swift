import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// The server's catalogue: users and certificates, images, the envelope ids it has seen, and
/// the notifications. The database is the truth; the notification log and the blob
/// directory follow it. What it stores in is a `CatalogueStore`: SQLite (`SQLiteStore`, the
/// default, needing nothing) or, for several server nodes sharing one state, PostgreSQL.
/// Every decision that must hold across writers (a name's owner, an envelope id seen once,
/// the next `seq`) is made inside the store's transaction.
public final class Catalogue: Sendable {
    let store: any CatalogueStore

    public init(store: any CatalogueStore) {
        self.store = store
    }

    /// The on-disk SQLite catalogue at `path`, created and migrated as needed.
    public convenience init(path: String) throws {
        self.init(store: try SQLiteStore(path: path))
    }

    /// An in-memory SQLite catalogue (tests).
    public convenience init() throws {
        self.init(store: try SQLiteStore())
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case nameTaken(String)
        case noSuchUser(String)
        case keyRevoked(String)
        case belongsToAnotherServer(location: String, authority: String)

        public var description: String {
            switch self {
            case .belongsToAnotherServer(let location, let authority):
                "the catalogue \(location) belongs to another server (CA fingerprint \(authority))"
            case .nameTaken(let name): "the name \"\(name)\" is already registered"
            case .noSuchUser(let name): "no user named \"\(name)\""
            case .keyRevoked(let user): "this key was revoked (as \(user)'s); it cannot be registered again"
            }
        }
    }

    /// Why an image in a batch was not recorded.
    public enum Refusal: Error, Equatable, Sendable {
        /// Its envelope id was seen before.
        case replay
        /// Another owner already has an image by that name.
        case nameOwnedBy(String)
    }

    /// Counts for `server status`.
    public struct Counts: Sendable {
        public let users: Int
        public let revoked: Int
        public let images: Int
        public let notifications: Int
        public let lastIngest: Date?
    }

    /// Where the rows are (no password), for messages and `server status`.
    public var location: String { store.location }

    /// Binds the catalogue to the server whose CA has `fingerprint` when it is bound to none;
    /// throws `belongsToAnotherServer` when it belongs to a server of another CA.
    public func bind(authority fingerprint: String) throws {
        // Read first: once bound (every open but the first), no write and no lock.
        let bound = try store.authority() ?? store.bind(authority: fingerprint)
        guard bound == fingerprint else { throw Failure.belongsToAnotherServer(location: location, authority: bound) }
    }

    // MARK: Users

    /// Records a new user; throws `nameTaken` when the name exists (revoked or not), and
    /// `keyRevoked` when the certificate's key was revoked under any name.
    public func addUser(name: String, certificate: [UInt8], fingerprint: String, at time: Date = Date()) throws {
        try store.addUser(name: name, certificate: certificate, fingerprint: fingerprint,
                          keyFingerprint: try Self.keyFingerprint(ofCertificate: certificate), at: time)
    }

    public func user(named name: String) throws -> UserRecord? { try store.user(named: name) }

    /// Every user, by name.
    public func users() throws -> [UserRecord] { try store.users() }

    /// Marks a user revoked, and their key with them: their later drops are refused, the key
    /// can never be registered again under any name; their images stay listed. Returns when
    /// the user was revoked already, nil when it happens now.
    @discardableResult
    public func revoke(name: String, at time: Date = Date()) throws -> Date? { try store.revoke(name: name, at: time) }

    /// Replaces an unrevoked user's certificate (a renewal for the same key).
    public func replaceCertificate(name: String, certificate: [UInt8], fingerprint: String) throws {
        try store.replaceCertificate(name: name, certificate: certificate, fingerprint: fingerprint)
    }

    /// The fingerprint of a stored certificate's public key: what seen ids and revocations are kept under.
    static func keyFingerprint(ofCertificate der: [UInt8]) throws -> String {
        try Certificate(der: der).publicKey.fingerprint.description
    }

    /// The user a certificate presented by a sender stands for: the registered certificate
    /// itself, or (sealed before a renewal) one of our CA's for the registered user's key.
    /// Revoked users are returned too, for the caller to refuse in words.
    public func registeredUser(presenting certificate: Certificate, authority: Certificate) throws -> UserRecord? {
        guard let user = try user(named: certificate.subject.commonName ?? "") else { return nil }
        if user.certificate == certificate.der { return user }
        guard (try? Certificate(der: user.certificate))?.publicKey == certificate.publicKey,
              (try? certificate.verify(issuedBy: authority, role: .user)) != nil
        else { return nil }
        return user
    }

    /// The user whose revocation revoked `key` (a public key fingerprint), or nil.
    public func revokedKeyOwner(_ key: String) throws -> String? { try store.revokedKeyOwner(key) }

    // MARK: Images and envelope ids

    /// Records a batch of accepted images in one transaction: for each, its envelope id, the
    /// image row and a notification. An image whose id was seen (even earlier in the same
    /// batch) or whose name belongs to another owner is left out and returned as refused;
    /// the rest commit together or not at all. `beforeCommit` runs last inside the
    /// transaction, told the log's position once it commits (nil when it adds no line): what
    /// must be durable before the rows that name it (the blobs) is made so there, and whatever
    /// it throws rolls it all back.
    public func record(_ images: [ImageRecord], blobs: BlobStore? = nil, beforeCommit: (LogHead.Position?) throws -> Void = { _ in }) throws -> [Int: Refusal] {
        try store.record(images, blobs: blobs, beforeCommit: beforeCommit)
    }

    /// The notification an accepted image adds after `last`, its line encoded exactly as the
    /// log will hold it, and the log's position after it: every store chains lines this way.
    static func notification(for image: ImageRecord, after last: LogHead.Position) -> (record: NotificationRecord, position: LogHead.Position) {
        let record = NotificationRecord(
            seq: last.seq + 1, time: Date(timeIntervalSince1970: image.ingestedAt.timeIntervalSince1970), type: "image",
            name: image.name, owner: image.owner, mediaType: image.mediaType, size: image.size, prev: last.hash)
        return (record, LogHead.Position(seq: record.seq, hash: LogHead.hash(ofLine: record.line)))
    }

    /// Records an envelope id that is not an image (a fetch request) with its claim; false
    /// when the sender key used the id before.
    public func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date = Date()) throws -> Bool {
        try store.markSeen(id, senderKey: senderKey, sender: sender, inboxName: inboxName, at: time)
    }

    /// Whether any envelope was committed from the claim `id` (a work/ ID).
    public func hasEnvelopes(fromClaim id: String) throws -> Bool { try store.hasEnvelopes(fromClaim: id) }

    /// The claim an envelope id of `senderKey` was first seen in, or nil when it is new.
    public func seenInboxName(_ id: [UInt8], senderKey: String) throws -> String? { try store.seenInboxName(id, senderKey: senderKey) }

    public func image(named name: String) throws -> ImageRecord? { try store.image(named: name) }

    /// Every image, by name.
    public func images() throws -> [ImageRecord] { try store.images() }

    /// Blobs of superseded versions still to be removed from disk.
    public func blobGarbage() throws -> [String] { try store.blobGarbage() }

    /// Removes each superseded blob that no row holds through `remove` (which must accept
    /// one already gone), then forgets it: a crash between the two repeats the removal.
    /// Returns the blobs removed.
    @discardableResult
    public func collectBlobGarbage(_ remove: (String) throws -> Void) throws -> [String] {
        var removed: [String] = []
        for blob in try blobGarbage() {
            if try !isBlobReferenced(blob) {
                try remove(blob)
                removed.append(blob)
            }
            try store.forgetBlob(blob)
        }
        return removed
    }

    public func isBlobReferenced(_ hash: String) throws -> Bool { try store.isBlobReferenced(hash) }

    /// Whether several nodes share the catalogue (PostgreSQL), which then keeps every blob.
    public var isShared: Bool { store.isShared }

    /// Makes sure blob `hash` is in `blobs`: a node that did not ingest it writes the
    /// catalogue's copy there, checked against its hash. False when neither has it.
    public func restoreBlob(_ hash: String, into blobs: BlobStore) throws -> Bool {
        if FileManager.default.fileExists(atPath: blobs.path(for: hash)) { return true }
        guard store.isShared else { return false }
        return try blobs.restore(hash) { body in try store.readBlob(hash, body) }
    }

    /// The SHA-256 of the catalogue's copy of blob `hash`, nil when it has none.
    public func blobDigest(_ hash: String) throws -> String? {
        var hasher = SHA256()
        return try store.readBlob(hash) { hasher.update(data: $0) } ? hasher.finalize().hex : nil
    }

    /// The blobs the catalogue keeps (none on SQLite).
    public func storedBlobs() throws -> [String] { try store.storedBlobs() }

    /// Forgets a blob no row holds: removes the catalogue's copy (fsck's repair).
    public func forgetBlob(_ hash: String) throws { try store.forgetBlob(hash) }

    // MARK: Notifications

    /// A descriptor that becomes readable when other nodes may have committed notifications
    /// (PostgreSQL); nil on SQLite, which only this node writes. The caller closes it.
    public func changes() -> CatalogueChanges? { store.changes() }

    /// Records how a node is doing (nothing on SQLite, whose root is its only node).
    public func report(_ node: NodeReport) throws { try store.report(node) }

    /// What every node of the server last reported, by name (none on SQLite).
    public func nodes() throws -> [NodeReport] { try store.nodes() }

    /// The last notification's seq and line hash (`LogHead.Position.start` when none).
    public func notificationPosition() throws -> LogHead.Position { try store.notificationPosition() }

    /// The line hash of notification `seq`, if there is one.
    func lineHash(seq: Int) throws -> String? { try store.lineHash(seq: seq) }

    public func notifications(after seq: Int) throws -> [NotificationRecord] { try store.notifications(after: seq) }

    public func counts() throws -> Counts { try store.counts() }
}

/// An accepted image, ready to be recorded.
public struct ImageRecord: Sendable, Equatable {
    public let name: String
    public let owner: String
    public let mediaType: String
    public let width: Int
    public let height: Int
    public let size: Int
    /// SHA-256 (hex) of the stored envelope: its blob name.
    public let blob: String
    public let envelopeID: [UInt8]
    public let createdAt: Date
    public let ingestedAt: Date
    /// The claim it came from: a leftover of a crash is recognised by it.
    public let inboxName: String
    /// The fingerprint of the key that signed it: envelope ids are unique per sender key.
    public let senderKey: String

    public init(name: String, owner: String, mediaType: String, width: Int, height: Int, size: Int, blob: String,
                envelopeID: [UInt8], createdAt: Date, ingestedAt: Date, inboxName: String, senderKey: String) {
        self.name = name
        self.owner = owner
        self.mediaType = mediaType
        self.width = width
        self.height = height
        self.size = size
        self.blob = blob
        self.envelopeID = envelopeID
        self.createdAt = createdAt
        self.ingestedAt = ingestedAt
        self.inboxName = inboxName
        self.senderKey = senderKey
    }
}

public struct UserRecord: Sendable, Equatable {
    public let name: String
    public let certificate: [UInt8]
    public let certificateFingerprint: String
    public let registeredAt: Date
    public let revokedAt: Date?

    public init(name: String, certificate: [UInt8], certificateFingerprint: String, registeredAt: Date, revokedAt: Date?) {
        self.name = name
        self.certificate = certificate
        self.certificateFingerprint = certificateFingerprint
        self.registeredAt = registeredAt
        self.revokedAt = revokedAt
    }
}

/// How one node of a server on a shared catalogue was doing when its daemon last looked.
public struct NodeReport: Sendable, Codable, Equatable {
    /// `HOST:ROOT`, the root's absolute path.
    public let name: String
    public let seenAt: Date
    public let inboxBacklog: Int
    public let quarantined: Int
    /// The last line in the node's own `notifications.jsonl`.
    public let logSeq: Int

    public init(name: String, seenAt: Date, inboxBacklog: Int, quarantined: Int, logSeq: Int) {
        (self.name, self.seenAt, self.inboxBacklog, self.quarantined, self.logSeq) = (name, seenAt, inboxBacklog, quarantined, logSeq)
    }

    enum CodingKeys: String, CodingKey {
        case name, quarantined
        case seenAt = "seen_at"
        case inboxBacklog = "inbox_backlog"
        case logSeq = "log_seq"
    }
}
