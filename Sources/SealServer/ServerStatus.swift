import DropProtocol
import Foundation
import SealEnvelope
import SealToken
import GcryptKit

/// What `server status` reports.
public struct ServerStatus: Sendable, Codable {
    /// Where the catalogue is: the SQLite file, or the PostgreSQL database (no password).
    public let catalogue: String
    public let users: Int
    public let revokedUsers: Int
    public let images: Int
    public let notifications: Int
    public let inboxBacklog: Int
    public let quarantined: Int
    public let lastIngest: String?
    public let keys: [Key]
    /// Every node of a server on a shared catalogue, as its daemon last reported (none on SQLite).
    public let nodes: [NodeReport]

    /// Where one of the root's private keys is, and, on a token when the PIN was given, how
    /// the token holds it.
    public struct Key: Sendable, Codable {
        public let role: String
        /// The key file, or the key's PKCS#11 URI.
        public let location: String
        public let token: String?
        public let sensitive: Bool?
        public let extractable: Bool?
        public let neverExtractable: Bool?

        enum CodingKeys: String, CodingKey {
            case role, location, token, sensitive, extractable
            case neverExtractable = "never_extractable"
        }
    }

    enum CodingKeys: String, CodingKey {
        case catalogue, users, images, notifications, quarantined, keys, nodes
        case revokedUsers = "revoked_users"
        case inboxBacklog = "inbox_backlog"
        case lastIngest = "last_ingest"
    }

    /// `pin`, when given, lets the token be asked how it holds the keys.
    public init(root: ServerRoot, pin: SecretBytes? = nil) throws {
        let opened = try root.catalogue()
        catalogue = opened.location
        let counts = try opened.counts()
        users = counts.users
        revokedUsers = counts.revoked
        images = counts.images
        notifications = counts.notifications
        inboxBacklog = (try? FileManager.default.contentsOfDirectory(atPath: root.inboxNew).count) ?? 0
        quarantined = Quarantine(root: root).count()
        lastIngest = counts.lastIngest.map { LogTime.format($0) }
        nodes = try opened.nodes()
        keys = try ServerRoot.Role.allCases.map { role in
            let stored = try StoredKey.locate(root.keyPath(role))
            guard case .token(let uri, _) = stored, let pin else {
                return Key(role: role.rawValue, location: stored.location, token: stored.tokenLabel, sensitive: nil, extractable: nil,
                           neverExtractable: nil)
            }
            let protection = try StoredKey.tokenKey(uri, pin: pin).protection()
            return Key(role: role.rawValue, location: stored.location, token: stored.tokenLabel, sensitive: protection.sensitive,
                       extractable: protection.extractable, neverExtractable: protection.neverExtractable)
        }
    }
}
