import DropProtocol
import Foundation
import GcryptKit
import HummingbirdCore
import SealClient
import SealEnvelope
import SealPKI

/// Images the page has uploaded and not yet posted, in the profile's spool (mode 0600, named
/// with this process's pid, so a killed gallery's are removed by the next run). The page
/// uploads each file alone, with its own progress, then posts them together: one batch, one
/// batch key and one signature for the lot, as `sealdrop post` of a folder. At most a signed
/// group's worth waits at once; what the page leaves behind expires.
final class GalleryUploads: Sendable {
    struct Upload: Sendable {
        let id: String
        let name: String
        let path: String
        let staged: Date
    }

    let spool: String
    private let waiting = Locked([String: Upload]())
    /// Uploads that may wait to be posted at once.
    static let maximumWaiting = 256
    /// How long an upload the page never posts is kept.
    static let lifetime: TimeInterval = 3600

    init(profile: Profile) {
        spool = profile.spool
        profile.removeAbandonedSpoolFiles()
    }

    static var full: GalleryError {
        GalleryError(.tooManyRequests, "\(maximumWaiting) uploads already wait to be posted: post them first")
    }

    /// Keeps `bytes` under `name` until `take`; the id to post it by. A full spool is refused
    /// before the file is written, and again when it is kept (another upload may have come).
    func stage(_ bytes: [UInt8], name: String) throws -> Upload {
        expire()
        guard waiting.withLock({ $0.count }) < Self.maximumWaiting else { throw Self.full }
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let upload = Upload(id: Random.bytes(count: 16).hexString, name: name, path: "\(spool)/\(Inbox.uniqueName(suffix: ".upload"))",
                            staged: Date())
        try AtomicFile.write(bytes, to: upload.path, mode: 0o600)
        let kept = waiting.withLock { waiting -> Bool in
            guard waiting.count < Self.maximumWaiting else { return false }
            waiting[upload.id] = upload
            return true
        }
        guard kept else {
            unlink(upload.path)
            throw Self.full
        }
        return upload
    }

    /// The uploads named by `ids`, no longer waiting (the caller removes their files). All or
    /// none: an id not waiting (posted already, expired, never made) refuses the lot.
    func take(_ ids: [String]) throws -> [Upload] {
        try waiting.withLock { waiting in
            guard Set(ids).count == ids.count else { throw GalleryError(.badRequest, "an upload is named twice") }
            if let missing = ids.first(where: { waiting[$0] == nil }) {
                throw GalleryError(.notFound, "upload \(missing) is not waiting to be posted (posted already, or expired): upload it again")
            }
            return ids.map { waiting.removeValue(forKey: $0)! }
        }
    }

    /// Removes uploads older than `lifetime`.
    func expire() {
        let old = waiting.withLock { waiting in
            let old = waiting.values.filter { -$0.staged.timeIntervalSinceNow > Self.lifetime }
            old.forEach { waiting.removeValue(forKey: $0.id) }
            return old
        }
        old.forEach { unlink($0.path) }
    }

    /// Removes every waiting upload (the gallery is stopping).
    func removeAll() {
        waiting.withLock { waiting in
            waiting.values.forEach { unlink($0.path) }
            waiting.removeAll()
        }
    }
}
