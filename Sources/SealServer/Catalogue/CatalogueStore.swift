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

    func record(_ images: [ImageRecord], beforeCommit: (LogHead.Position?) throws -> Void) throws -> [Int: Catalogue.Refusal]
    func markSeen(_ id: [UInt8], senderKey: String, sender: String, inboxName: String, at time: Date) throws -> Bool
    func hasEnvelopes(fromClaim id: String) throws -> Bool
    func seenInboxName(_ id: [UInt8], senderKey: String) throws -> String?
    func image(named name: String) throws -> ImageRecord?
    func images() throws -> [ImageRecord]
    func blobGarbage() throws -> [String]
    /// Forgets a superseded blob once it is removed from disk.
    func forgetBlobGarbage(_ blob: String) throws
    func isBlobReferenced(_ hash: String) throws -> Bool

    func notificationPosition() throws -> LogHead.Position
    func lineHash(seq: Int) throws -> String?
    func notifications(after seq: Int) throws -> [NotificationRecord]
    func counts() throws -> Catalogue.Counts
}
