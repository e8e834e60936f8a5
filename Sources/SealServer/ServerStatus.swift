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
        lastIngest = counts.lastIngest.map { NotificationLog.timeFormatter.string(from: $0) }
    }
}

/// `server fsck`: every image row has its blob with the right hash, every blob has a row,
/// and the notification log matches the catalogue line for line.
public struct Fsck: Sendable {
    public let root: ServerRoot

    public init(root: ServerRoot) { self.root = root }

    public struct Problem: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable { case missingBlob, corruptBlob, orphanBlob, logMismatch }
        public let kind: Kind
        public let detail: String
        public let repairable: Bool
        public var description: String { "\(kind.rawValue): \(detail)\(repairable ? "" : " (not repairable)")" }
    }

    public func check() throws -> [Problem] {
        let catalogue = try root.catalogue()
        let blobs = BlobStore(directory: root.blobs)
        var problems: [Problem] = []
        let images = try catalogue.images()
        for image in images {
            guard FileManager.default.fileExists(atPath: blobs.path(for: image.blob)) else {
                problems.append(Problem(kind: .missingBlob, detail: "\(image.name) (\(image.blob))", repairable: false))
                continue
            }
            if try blobs.digest(of: image.blob) != image.blob {
                problems.append(Problem(kind: .corruptBlob, detail: "\(image.name) (\(image.blob))", repairable: false))
            }
        }
        let referenced = Set(images.map(\.blob))
        for hash in try blobs.hashes() where !referenced.contains(hash) {
            problems.append(Problem(kind: .orphanBlob, detail: hash, repairable: true))
        }
        let expected = try catalogue.notifications(after: 0)
        let logged: [NotificationRecord]
        do {
            logged = try NotificationLog.records(at: root.notificationLogPath, after: 0)
        } catch let corrupt as NotificationLog.Corrupt {
            problems.append(Problem(kind: .logMismatch, detail: "line \(corrupt.line): \(corrupt.reason)", repairable: true))
            return problems
        }
        // The log keeps times to the millisecond.
        func same(_ a: NotificationRecord, _ b: NotificationRecord) -> Bool {
            a.seq == b.seq && a.type == b.type && a.name == b.name && a.owner == b.owner && a.mediaType == b.mediaType
                && a.size == b.size && abs(a.time.timeIntervalSince(b.time)) < 0.001
        }
        if let index = Array(zip(logged, expected)).firstIndex(where: { !same($0, $1) }) {
            problems.append(Problem(kind: .logMismatch, detail: "seq \(expected[index].seq) differs", repairable: true))
        } else if logged.count != expected.count {
            problems.append(Problem(kind: .logMismatch, detail: "\(logged.count) lines for \(expected.count) notifications", repairable: true))
        }
        return problems
    }

    /// Removes orphan blobs and rewrites the log from the catalogue; returns what remains.
    public func repair() throws -> [Problem] {
        let lock = try IngestLock(path: root.lockPath)
        defer { withExtendedLifetime(lock) {} }
        let blobs = BlobStore(directory: root.blobs)
        for problem in try check() {
            switch problem.kind {
            case .orphanBlob: unlink(blobs.path(for: problem.detail))
            case .logMismatch:
                try NotificationLog(path: root.notificationLogPath).rebuild(from: root.catalogue())
            case .missingBlob, .corruptBlob: break
            }
        }
        return try check()
    }
}
