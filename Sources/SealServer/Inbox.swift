import DropProtocol
import Foundation
import SealEnvelope
import SealPKI

/// The server's side of the inbox: what waits in `inbox/new/`, and what each drop is.
extension Inbox {
    /// What a claimed drop is, from its first bytes.
    enum Kind: Equatable {
        case envelope
        case request
        case refused(String)
    }

    /// Entries waiting in `inbox`, oldest first (by modification time, then name): at most
    /// `limit` to take, leaving out `skipping`, and apart from them every entry that takes
    /// its owner (uid) past `bytesPerUser` of waiting drops, to be refused.
    static func pending(
        _ inbox: DropDirectory, limit: Int, skipping: Set<RawName> = [], bytesPerUser: Int = .max
    ) throws -> (take: [RawName], overQuota: [RawName]) {
        var dated: [(name: RawName, info: stat)] = []
        for name in try inbox.entries() where !skipping.contains(name) {
            guard let info = inbox.status(name) else { continue }
            dated.append((name, info))
        }
        dated.sort { a, b in
            if a.info.st_mtim.tv_sec != b.info.st_mtim.tv_sec { return a.info.st_mtim.tv_sec < b.info.st_mtim.tv_sec }
            if a.info.st_mtim.tv_nsec != b.info.st_mtim.tv_nsec { return a.info.st_mtim.tv_nsec < b.info.st_mtim.tv_nsec }
            return a.name.bytes.lexicographicallyPrecedes(b.name.bytes)
        }
        var used: [uid_t: Int] = [:]
        var take: [RawName] = [], overQuota: [RawName] = []
        for (name, info) in dated {
            let total = (used[info.st_uid] ?? 0).addingReportingOverflow(Int(info.st_size))
            if total.overflow || total.partialValue > bytesPerUser {
                overQuota.append(name)
            } else {
                used[info.st_uid] = total.partialValue
                if take.count < limit { take.append(name) }
            }
        }
        return (take, overQuota)
    }

    /// Looks at the first bytes of a claimed copy: an envelope or a PEM certificate request
    /// is read further, anything else is refused. (A bundle whose index parses never comes
    /// here: its envelopes are examined one by one.)
    static func classify(_ path: String) throws -> Kind {
        var source = try FileSource(path: path, followSymlinks: false)
        let prefix = try source.read(upTo: 36)
        if prefix.starts(with: EnvelopeHeader.magic) { return .envelope }
        if Bundle.isBundle(prefix) {
            try source.rewind()
            do {
                _ = try Bundle.members(of: &source, size: source.size)
                return .refused("a bundle that could not be read")
            } catch EnvelopeError.malformed(let why) {
                return .refused("unreadable bundle: \(why)")
            }
        }
        if prefix.starts(with: Array("-----BEGIN CERTIFICATE REQUEST-----".utf8)) { return .request }
        return .refused("neither an envelope nor a certificate request")
    }
}
