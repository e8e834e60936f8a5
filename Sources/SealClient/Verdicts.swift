import DropProtocol
import Foundation
import SealEnvelope
import SealPKI

/// What the server decided about an envelope a user sent.
public enum Verdict: Sendable, Equatable {
    case accepted
    case refused(String)
}

/// The server's verdicts on this user's envelopes, collected from the outbox (`accepted-ID`
/// and `rejected-ID` notes, removed once read), over either transport.
public struct Verdicts: Sendable {
    let transport: any ServerTransport
    let user: String

    public init(transport: any ServerTransport, user: String) {
        self.transport = transport
        self.user = user
    }

    /// The verdicts that have come for `ids` (envelope ids in hex), each collected once.
    public func collect(_ ids: Set<String>) throws -> [String: Verdict] {
        guard !ids.isEmpty else { return [:] }
        let notes = Set(try transport.outboxListing(user: user))
        var found: [String: Verdict] = [:]
        for id in ids {
            // An acceptance wins: a refusal under the same id is a replayed copy's.
            if notes.contains(Outbox.acceptance(id: id)) {
                found[id] = .accepted
                try transport.removeFromOutbox(Outbox.acceptance(id: id), user: user)
                if notes.contains(Outbox.refusal(id: id)) { try transport.removeFromOutbox(Outbox.refusal(id: id), user: user) }
            } else if notes.contains(Outbox.refusal(id: id)), let reason = try transport.collectRefusal(id: id, user: user) {
                found[id] = .refused(reason)
            }
        }
        // Envelopes that came in a bundle are accepted by one note for all of them; it goes
        // once every envelope it lists has been asked for.
        for note in notes.sorted() where note.hasPrefix(Outbox.bundleAcceptancePrefix) && !note.hasPrefix(".") {
            guard let bytes = try transport.outboxFile(note, user: user, limit: BundleAcceptance.maximumBytes),
                  let listed = try? JSONDecoder().decode(BundleAcceptance.self, from: Data(bytes)).envelopes.map(\.envelopeID)
            else { continue }
            let ours = listed.filter(ids.contains)
            guard !ours.isEmpty else { continue }
            for id in ours {
                found[id] = .accepted
                if notes.contains(Outbox.refusal(id: id)) { try transport.removeFromOutbox(Outbox.refusal(id: id), user: user) }
            }
            if ours.count == listed.count { try transport.removeFromOutbox(note, user: user) }
        }
        return found
    }

    /// Waits up to `timeout` seconds for the verdicts on `ids`; `arrived` hears each as it
    /// comes. Returns those that came (the rest are still pending).
    /// `stopped` ends the wait early (an interrupt).
    public func wait(
        for ids: Set<String>, timeout: Double, stopped: () -> Bool = { false }, arrived: (String, Verdict) -> Void
    ) throws -> [String: Verdict] {
        var found: [String: Verdict] = [:]
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            for (id, verdict) in try collect(ids.subtracting(found.keys)) {
                found[id] = verdict
                arrived(id, verdict)
            }
            guard found.count < ids.count, Date() < deadline, !stopped() else { return found }
            usleep(useconds_t(max(transport.pollInterval, 0.2) * 1_000_000))
        }
    }
}

/// The profile's record of what it posted (`posts.jsonl`): one line per post and per verdict,
/// the last line about an envelope id saying where it stands. `sealdrop status` reads it.
public struct PostLog: Sendable {
    public let path: String

    public init(profile: Profile) { path = profile.home + "/posts.jsonl" }

    public struct Entry: Codable, Sendable, Equatable {
        public let id: String
        public let name: String
        public let file: String
        public let time: String
        /// "pending", "accepted" or "refused".
        public let state: String
        public let reason: String?
        /// SHA-256 of the image posted (hex), so that a post run again skips what it sent.
        public let sha256: String?

        public init(id: String, name: String, file: String, time: String, state: String, reason: String? = nil, sha256: String? = nil) {
            self.id = id
            self.name = name
            self.file = file
            self.time = time
            self.state = state
            self.reason = reason
            self.sha256 = sha256
        }

        public func with(_ verdict: Verdict) -> Entry {
            switch verdict {
            case .accepted: Entry(id: id, name: name, file: file, time: time, state: "accepted", sha256: sha256)
            case .refused(let reason): Entry(id: id, name: name, file: file, time: time, state: "refused", reason: reason, sha256: sha256)
            }
        }
    }

    /// Appends `entries` (one write, so concurrent posts interleave whole lines).
    public func append(_ entries: [Entry]) throws {
        guard !entries.isEmpty else { return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var bytes: [UInt8] = []
        for entry in entries { bytes += Array(try encoder.encode(entry)) + [UInt8(ascii: "\n")] }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        defer { close(fd) }
        try AtomicFile.writeAll(bytes, to: fd, path: path)
    }

    /// An image by name and contents.
    public struct Content: Hashable, Sendable {
        public let name: String
        public let sha256: String
        public init(name: String, sha256: String) {
            self.name = name
            self.sha256 = sha256
        }
    }

    /// The posts that were accepted or still wait for a verdict, by name and contents: what
    /// a post run again skips. A refused post may be tried again.
    public func standing(_ entries: [Entry]) -> [Content: Entry] {
        var standing: [Content: Entry] = [:]
        for entry in entries where entry.state != "refused" {
            guard let sha256 = entry.sha256 else { continue }
            standing[Content(name: entry.name, sha256: sha256)] = entry
        }
        return standing
    }

    /// True when some post still waits for its verdict.
    public func hasPending() throws -> Bool {
        try entries().contains { $0.state == "pending" }
    }

    /// Collects the verdicts that came for the posts still pending (each once, from the
    /// outbox), records them, and returns the entries they settled.
    @discardableResult
    public func settle(_ verdicts: Verdicts) throws -> [Entry] {
        let pending = try entries().filter { $0.state == "pending" }
        guard !pending.isEmpty else { return [] }
        let found = try verdicts.collect(Set(pending.map(\.id)))
        let settled = pending.compactMap { entry in found[entry.id].map { entry.with($0) } }
        try append(settled)
        return settled
    }

    /// Where each post stands, by envelope id, in the order first posted.
    public func entries() throws -> [Entry] {
        guard let bytes = try KeyFile.readBytesIfPresent(path, limit: 256 << 20, followSymlinks: false) else { return [] }
        var order: [String] = []
        var latest: [String: Entry] = [:]
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let entry = try? JSONDecoder().decode(Entry.self, from: Data(line)) else { continue }
            if latest[entry.id] == nil { order.append(entry.id) }
            latest[entry.id] = entry
        }
        return order.compactMap { latest[$0] }
    }
}
