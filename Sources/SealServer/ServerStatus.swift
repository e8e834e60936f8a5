import DropProtocol
import Foundation
import SealEnvelope

/// What `server status` reports.
public struct ServerStatus: Sendable, Codable {
    public let users: Int
    public let revokedUsers: Int
    public let images: Int
    public let notifications: Int
    public let inboxBacklog: Int
    public let quarantined: Int
    public let lastIngest: String?

    enum CodingKeys: String, CodingKey {
        case users, images, notifications, quarantined
        case revokedUsers = "revoked_users"
        case inboxBacklog = "inbox_backlog"
        case lastIngest = "last_ingest"
    }

    public init(root: ServerRoot) throws {
        let counts = try root.catalogue().counts()
        users = counts.users
        revokedUsers = counts.revoked
        images = counts.images
        notifications = counts.notifications
        inboxBacklog = (try? FileManager.default.contentsOfDirectory(atPath: root.inboxNew).count) ?? 0
        quarantined = Quarantine(root: root).count()
        lastIngest = counts.lastIngest.map { LogTime.format($0) }
    }
}
