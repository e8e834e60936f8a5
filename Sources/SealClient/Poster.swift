import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope

/// `sealdrop post` and the gallery's posting: seals images to the server's encryption key and
/// sends them as drops (into the inbox the Maildir way, or through the gateway). Several
/// images go as one batch: one batch key wrapped for all of them (FORMAT.md §5.1), each group
/// of up to 256 signed once (§7.2) and, where the transport takes them, sent as one bundle
/// (§13). Each envelope sent is recorded in the profile's posts.jsonl at once, pending its
/// verdict, so a run cut short still knows what it sent.
public struct Poster: Sendable {
    public let sealer: EnvelopeSealer
    public let transport: any ServerTransport
    public let profile: Profile

    public init(profile: Profile, sealer: EnvelopeSealer, transport: any ServerTransport) {
        self.profile = profile
        self.sealer = sealer
        self.transport = transport
    }

    /// Seals `image` under `name` and sends it (an unusable name is refused before a byte is
    /// sent). Not recorded: `send` records.
    public func post(_ image: String, name: String) throws -> SealSummary {
        var source = try FileSource(path: image)
        return try transport.sendSealed(&source, name: name, sealer: sealer)
    }

    /// SHA-256 of the file at `path` (hex): how a post's record knows an image again.
    public static func contentDigest(of path: String) throws -> String {
        var source = try FileSource(path: path)
        return try source.sha256().hex
    }

    /// How several images are sent. Each saving applies from two images on.
    public struct Batching: Sendable {
        /// One batch key for the whole batch: the server unwraps once per batch.
        public var wrap = true
        /// One signature per group of `SignedBatchRunner.groupSize`.
        public var sign = true
        /// Each signed group as one drop, where the transport takes bundles.
        public var bundle = true
        /// Images sealed at once.
        public var jobs = Cores.available

        public init() {}
    }

    /// What `send` did: each item's outcome in input order, and the posts.jsonl entry of
    /// each envelope sent, by envelope id (what to wait for verdicts on).
    public struct Sent: Sendable {
        public let results: [BatchResult]
        public let posted: [String: PostLog.Entry]
    }

    /// Seals and sends `items`, each under `names[item.input]`, recorded in posts.jsonl with
    /// `file(item)` as where it came from. `skip` sees each image's digest first and may
    /// settle it unsent (posted already).
    public func send(
        _ items: [BatchItem], names: [String: String], batching: Batching = Batching(),
        file: @escaping @Sendable (BatchItem) -> String = { $0.input },
        skip: @escaping @Sendable (BatchItem, _ sha256: String) -> BatchOutcome? = { _, _ in nil },
        stopped: @escaping @Sendable () -> Bool = { false },
        progress: @Sendable (BatchProgress) -> Void = { _ in }
    ) throws -> Sent {
        var sealer = self.sealer
        if batching.wrap, items.count > 1 { sealer.batchKey = try BatchKey(recipient: sealer.recipient, sender: sealer.signer.certificate) }
        let poster = Poster(profile: profile, sealer: sealer, transport: transport)
        let log = PostLog(profile: profile)
        let posted = Locked([String: PostLog.Entry]())
        let digests = Locked([String: String]())
        /// Recorded as soon as it is sent.
        @Sendable func record(_ item: BatchItem, _ summary: SealSummary) -> BatchOutcome {
            let entry = PostLog.Entry(id: summary.envelopeID.hexString, name: names[item.input]!, file: file(item),
                                      time: LogTime.format(Date(), milliseconds: false), state: "pending", sha256: digests.withLock { $0[item.input] })
            do {
                try log.append([entry])
            } catch {
                return .failed(error)
            }
            posted.withLock { $0[entry.id] = entry }
            return .done(output: entry.id, bytes: summary.payloadLength)
        }
        /// Why the image is not sent, if it is not.
        @Sendable func settled(_ item: BatchItem) throws -> BatchOutcome? {
            let digest = try Poster.contentDigest(of: item.input)
            digests.withLock { $0[item.input] = digest }
            return skip(item, digest)
        }
        let results: [BatchResult]
        if batching.sign, items.count > 1 {
            // Sealed into drops up to their trailers, each group signed once, then sent.
            let signer = BatchSigner(sealer: sealer)
            // Bundled envelopes wait in the spool until their group's bundle is sent, durably.
            let bundling = batching.bundle
            if bundling {
                try FileManager.default.createDirectory(atPath: profile.spool, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
                profile.removeAbandonedSpoolFiles()
            }
            results = SignedBatchRunner.run(
                items, groupSize: SignedBatchRunner.groupSize, jobs: batching.jobs, signer: signer, durable: !bundling,
                stopped: stopped,
                prepare: { item in
                    do {
                        if let outcome = try settled(item) { return .settled(outcome) }
                        let path = bundling ? "\(profile.spool)/\(Inbox.uniqueName(suffix: ".seal"))" : try transport.prepareDrop()
                        return .sealed(try signer.prepare(item.input, to: path, name: names[item.input]!))
                    } catch {
                        return .settled(BatchOutcome(error: error, item: item))
                    }
                },
                deliver: { group in
                    if bundling {
                        // A group goes as one bundle, or as several where it would pass the
                        // largest drop a server takes by default.
                        defer { group.forEach { unlink($0.envelope.path) } }
                        let sized = group.map { member in
                            var info = stat()
                            return (member, stat(member.envelope.path, &info) == 0 ? Int(info.st_size) : 0)
                        }
                        return Poster.bundles(sized).flatMap { bundle in
                            do {
                                try transport.sendBundle(bundle.map(\.envelope.path))
                            } catch {
                                return bundle.map { _ in BatchOutcome.failed(error) }
                            }
                            return bundle.map { record($0.item, $0.envelope.summary) }
                        }
                    }
                    return group.map { item, envelope in
                        do {
                            try transport.send(drop: envelope.path)
                        } catch {
                            transport.discard(drop: envelope.path)
                            return .failed(error)
                        }
                        return record(item, envelope.summary)
                    }
                },
                progress: progress)
        } else {
            results = BatchRunner.run(items, jobs: batching.jobs, stopped: stopped, work: { item in
                do {
                    return try settled(item) ?? record(item, try poster.post(item.input, name: names[item.input]!))
                } catch {
                    return BatchOutcome(error: error, item: item)
                }
            }, progress: progress)
        }
        return Sent(results: results, posted: posted.withLock { $0 })
    }

    /// `members`, each with its envelope's size in bytes, cut in order into bundles that each
    /// fit in the largest drop a server takes by default (FORMAT.md §13: an index of 13 bytes
    /// and 8 a member); a member too large for any bundle goes alone.
    static func bundles<Member>(_ members: [(Member, Int)], limit: Int = Inbox.defaultMaximumDropBytes) -> [[Member]] {
        var bundles: [[Member]] = []
        var size = 0
        for (member, bytes) in members {
            if bundles.isEmpty || size + 8 + bytes > limit || bundles[bundles.count - 1].count == Bundle.maximumMembers {
                bundles.append([])
                size = 13
            }
            bundles[bundles.count - 1].append(member)
            size += 8 + bytes
        }
        return bundles
    }

    /// Waits up to `timeout` seconds for the server's verdicts on `posted`, calling `arrived`
    /// as each comes, and records them in posts.jsonl. Those not answered in time stay
    /// pending there (`sealdrop status` collects them later).
    public func verdicts(
        for posted: [String: PostLog.Entry], timeout: Double, stopped: @Sendable () -> Bool = { false },
        arrived: (PostLog.Entry, Verdict) -> Void = { _, _ in }
    ) throws -> [String: Verdict] {
        let verdicts = try Verdicts(transport: transport, user: profile.settings.user).wait(
            for: Set(posted.keys), timeout: timeout, stopped: stopped
        ) { id, verdict in
            if let entry = posted[id] { arrived(entry, verdict) }
        }
        try PostLog(profile: profile).append(verdicts.compactMap { id, verdict in posted[id]?.with(verdict) })
        return verdicts
    }
}
