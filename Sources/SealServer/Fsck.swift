import DropProtocol
import Foundation
import SealEnvelope
import SealPKI

/// `server fsck`: every image row has its blob with the right hash and that blob is the
/// envelope the row was verified from; every blob has a row; the notification log matches
/// the catalogue line for line; every directory and key has its mode (docs/SERVER.md). On a
/// catalogue that keeps the blobs (PostgreSQL), its copies are checked the same way, and this
/// node's directory holds copies of some: a missing one is restored when fetched, a corrupt or
/// unreferenced one is removed by the repair.
public struct Fsck: Sendable {
    public let root: ServerRoot

    public init(root: ServerRoot) { self.root = root }

    public struct Problem: Sendable, CustomStringConvertible {
        public enum Kind: String, Sendable {
            case missingBlob, corruptBlob, wrongBlob, orphanBlob, strayEnvelope, logMismatch, wrongMode
            /// A blob the catalogue keeps that no row holds.
            case orphanStoredBlob
        }
        public let kind: Kind
        public let detail: String
        public let repairable: Bool
        /// The blob concerned, for the repair.
        public var blob: String? = nil
        public var description: String { "\(kind.rawValue): \(detail)\(repairable ? "" : " (not repairable)")" }
    }

    public func check() throws -> [Problem] {
        let catalogue = try root.catalogue()
        let blobs = BlobStore(directory: root.blobs)
        var problems: [Problem] = []
        let images = try catalogue.images()
        let kept = catalogue.isShared
        for image in images {
            let path = blobs.path(for: image.blob)
            let named = "\(LogText.escaped(image.name)) (\(image.blob))"
            if kept {
                switch try catalogue.blobDigest(image.blob) {
                case nil:
                    problems.append(Problem(kind: .missingBlob, detail: "\(named) is not in the catalogue \(catalogue.location)", repairable: false))
                    continue
                case let digest? where digest != image.blob:
                    problems.append(Problem(kind: .corruptBlob, detail: "\(named) in the catalogue \(catalogue.location)", repairable: false))
                    continue
                default:
                    // This node's copy, if it has one, is checked below; none is fine.
                    guard FileManager.default.fileExists(atPath: path) else { continue }
                }
            }
            guard FileManager.default.fileExists(atPath: path) else {
                problems.append(Problem(kind: .missingBlob, detail: named, repairable: false))
                continue
            }
            if try blobs.digest(of: image.blob) != image.blob {
                // A bad copy of a blob the catalogue keeps intact is removed, and restored when fetched.
                problems.append(Problem(kind: .corruptBlob, detail: kept ? "\(named), this node's copy" : named, repairable: kept,
                                        blob: image.blob))
                continue
            }
            // A rolled-back or swapped row points at another envelope than it was verified from.
            let header = try? EnvelopeFiles.peekHeader(path, followSymlinks: false)
            if header?.envelopeID != image.envelopeID || header?.name != image.name
                || header?.senderCertificate.subject.commonName != image.owner {
                problems.append(Problem(
                    kind: .wrongBlob, detail: "\(LogText.escaped(image.name)) points at \(image.blob), which is not its envelope",
                    repairable: false))
            }
        }
        // Superseded versions awaiting removal and drops being ingested are accounted for.
        let referenced = Set(images.map(\.blob)).union(try catalogue.blobGarbage())
            .union(WorkQueue.claimedHashes(in: root.work))
        let rows = Dictionary(images.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for hash in try blobs.hashes() where !referenced.contains(hash) {
            // An unreferenced envelope newer than its name's row may be the one a rolled-back
            // row should point at: it is reported and kept, never removed by --repair.
            if let header = try? EnvelopeFiles.peekHeader(blobs.path(for: hash), followSymlinks: false),
               let row = rows[header.name], header.createdDate > row.createdAt {
                problems.append(Problem(
                    kind: .strayEnvelope,
                    detail: "\(hash) is an envelope of \(LogText.escaped(header.name)) that no row points at; kept", repairable: false))
            } else {
                problems.append(Problem(kind: .orphanBlob, detail: hash, repairable: true, blob: hash))
            }
        }
        for hash in try catalogue.storedBlobs() where !referenced.contains(hash) {
            problems.append(Problem(kind: .orphanStoredBlob, detail: "\(hash) in the catalogue \(catalogue.location)", repairable: true, blob: hash))
        }
        problems += try logProblems(catalogue)
        problems += modeProblems()
        return problems
    }

    func logProblems(_ catalogue: Catalogue) throws -> [Problem] {
        let expected = try catalogue.notifications(after: 0)
        let logged: [NotificationRecord]
        do {
            logged = try NotificationLog.records(at: root.notificationLogPath, after: 0)
        } catch let corrupt as NotificationLog.Corrupt {
            return [Problem(kind: .logMismatch, detail: "line \(corrupt.line): \(corrupt.reason)", repairable: true)]
        }
        // The log keeps times to the millisecond.
        func same(_ a: NotificationRecord, _ b: NotificationRecord) -> Bool {
            a.seq == b.seq && a.type == b.type && a.name == b.name && a.owner == b.owner && a.mediaType == b.mediaType
                && a.size == b.size && a.prev == b.prev && abs(a.time.timeIntervalSince(b.time)) < 0.001
        }
        if let index = Array(zip(logged, expected)).firstIndex(where: { !same($0, $1) }) {
            return [Problem(kind: .logMismatch, detail: "seq \(expected[index].seq) differs", repairable: true)]
        } else if logged.count != expected.count && !(catalogue.isShared && logged.count < expected.count) {
            // (A shared catalogue's other nodes commit too: a log that holds the chain's start
            // only is behind, and this node's daemon catches it up.)
            return [Problem(kind: .logMismatch, detail: "\(logged.count) lines for \(expected.count) notifications", repairable: true)]
        }
        // The signed head must name the log's last line; ingest and watch sign it (they hold the key).
        let position = try logged.last.map { LogHead.Position(seq: $0.seq, hash: try catalogue.lineHash(seq: $0.seq) ?? "") } ?? .start
        let log = NotificationLog(path: root.notificationLogPath)
        let head = try? LogHead.read(at: log.headPath)
        if position != .start, head?.position != position || (try? head?.verify(authority: root.authorityCertificate())) == nil {
            return [Problem(kind: .logMismatch, detail: "\(log.headPath) does not sign the last line; the next ingest or watch signs it",
                            repairable: false)]
        }
        return []
    }

    /// Every path whose mode docs/SERVER.md fixes, with that mode.
    var expectedModes: [(path: String, mode: mode_t)] {
        ServerRoot.layout.map { ($0.directory.isEmpty ? root.path : "\(root.path)/\($0.directory)", $0.mode) }
            + [root.caKeyPath, root.encryptionKeyPath, root.deliveryKeyPath, root.databasePath, root.catalogueURLPath].map { ($0, 0o600) }
            + [root.notificationLogPath].map { ($0, 0o644) }
    }

    func modeProblems() -> [Problem] {
        expectedModes.compactMap { path, mode in
            var info = stat()
            guard lstat(path, &info) == 0 else { return nil }
            let actual = info.st_mode & 0o7777
            guard actual != mode else { return nil }
            return Problem(kind: .wrongMode, detail: "\(path) is \(String(actual, radix: 8)), should be \(String(mode, radix: 8))",
                           repairable: true)
        }
    }

    /// What `repair` did and what it could not.
    public struct Repair: Sendable {
        /// One sentence per action ("removed orphan blob HASH").
        public var done: [String] = []
        public var remaining: [Problem] = []
    }

    /// Removes orphan blobs (never one that may be a row's envelope) and superseded ones,
    /// rewrites the log from the catalogue and sets wrong modes; says each thing it did.
    public func repair() throws -> Repair {
        let lock = try IngestLock(path: root.lockPath)
        defer { withExtendedLifetime(lock) {} }
        let blobs = BlobStore(directory: root.blobs)
        var repair = Repair()
        let catalogue = try root.catalogue()
        for blob in try catalogue.collectBlobGarbage(blobs.remove) {
            repair.done.append("removed the blob of a superseded version: \(blob)")
        }
        for problem in try check() {
            switch problem.kind {
            case .orphanBlob:
                try blobs.remove(problem.detail)
                repair.done.append("removed orphan blob \(problem.detail)")
            case .orphanStoredBlob:
                try catalogue.forgetBlob(problem.blob!)
                repair.done.append("removed orphan blob \(problem.detail)")
            case .corruptBlob where problem.repairable:
                try blobs.remove(problem.blob!)
                repair.done.append("removed this node's corrupt copy of \(problem.detail); the catalogue's is restored when it is fetched")
            case .logMismatch:
                try NotificationLog(path: root.notificationLogPath).rebuild(from: catalogue, signer: nil)
                repair.done.append("rewrote \(root.notificationLogPath) from the catalogue (\(try catalogue.notificationPosition().seq) lines)")
            case .wrongMode:
                for (path, mode) in expectedModes { chmod(path, mode) }
                repair.done.append("set the mode of \(problem.detail)")
            case .missingBlob, .corruptBlob, .wrongBlob, .strayEnvelope: break
            }
        }
        repair.remaining = try check()
        return repair
    }
}
