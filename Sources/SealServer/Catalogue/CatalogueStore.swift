import DropProtocol
import Foundation

/// Where the catalogue keeps its rows: one implementation per database, each passing the same
/// tests (`CatalogueTests` runs on every store). What `Catalogue` documents of each operation
/// holds for every store; what must hold across concurrent writers (a name's owner, an
/// envelope id seen once, the next notification's `seq`) is decided inside the store's
/// transaction.
public protocol CatalogueStore: Sendable {
    /// Where the rows are, for messages and `server status` (never a password).
    var location: String { get }
    /// The fingerprint of the CA whose server the catalogue belongs to, once one is bound.
    func authority() throws -> String?
    /// Binds the catalogue to the server whose CA has `fingerprint`, unless it is bound
    /// already; returns the fingerprint it is bound to (decided once, across writers).
    func bind(authority fingerprint: String) throws -> String

    func addUser(name: String, certificate: [UInt8], fingerprint: String, keyFingerprint: String, at time: Date) throws
    func user(named name: String) throws -> UserRecord?
    func users() throws -> [UserRecord]
    func revoke(name: String, at time: Date) throws -> Date?
    func replaceCertificate(name: String, certificate: [UInt8], fingerprint: String) throws
    func revokedKeyOwner(_ key: String) throws -> String?

    /// Records a batch in one transaction; a store that keeps blobs stores each accepted
    /// image's blob, read from `blobs`, in that same transaction.
    func record(_ images: [ImageRecord], blobs: BlobStore?, beforeCommit: (LogHead.Position?) throws -> Void) throws -> [Int: Catalogue.Refusal]
    func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date) throws -> Bool
    func hasEnvelopes(fromClaim id: String) throws -> Bool
    func seenInboxName(_ id: [UInt8], senderKey: String) throws -> String?
    func image(named name: String) throws -> ImageRecord?
    func images() throws -> [ImageRecord]
    func blobGarbage() throws -> [String]
    /// Forgets a blob once it is removed from disk, unless a row holds it again: its garbage
    /// entry, and its bytes in a store that keeps blobs.
    func forgetBlob(_ blob: String) throws
    func isBlobReferenced(_ hash: String) throws -> Bool

    /// Whether several nodes share the store (PostgreSQL): others commit too, so a node's log
    /// may be behind it for a moment, and it keeps every blob's bytes itself, for every node,
    /// so a node's blob directory holds copies that `readBlob` restores.
    var isShared: Bool { get }
    /// Hands blob `hash`'s bytes to `body` piece by piece, in order; false when the store
    /// has no such blob (or keeps none).
    func readBlob(_ hash: String, _ body: ([UInt8]) throws -> Void) throws -> Bool
    /// The blobs the store keeps, by hash (none for a store that keeps none).
    func storedBlobs() throws -> [String]

    /// What signals other writers' commits (other nodes on one database); nil when the
    /// store has no other writer to hear from.
    func changes() -> CatalogueChanges?

    /// Records how a node of the server is doing (its daemon, at every wake-up); a store
    /// with one node records nothing.
    func report(_ node: NodeReport) throws
    /// What every node last reported, by name.
    func nodes() throws -> [NodeReport]

    func notificationPosition() throws -> LogHead.Position
    func lineHash(seq: Int) throws -> String?
    func notifications(after seq: Int) throws -> [NotificationRecord]
    func counts() throws -> Catalogue.Counts
}
