import Foundation
import SealEnvelope
import SealPKI

/// The Maildir-style inbox: writers create `inbox/tmp/NAME`, fsync, and rename it into
/// `inbox/new/NAME`; the server only ever reads `inbox/new/`.
public enum Inbox {
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
    /// is read further, anything else is refused.
    static func classify(_ path: String) throws -> Kind {
        var source = try FileSource(path: path, followSymlinks: false)
        let prefix = try source.read(upTo: 36)
        if prefix.starts(with: Array("SEALDROP".utf8)) { return .envelope }
        if prefix.starts(with: Array("-----BEGIN CERTIFICATE REQUEST-----".utf8)) { return .request }
        return .refused("neither an envelope nor a certificate request")
    }

    /// Drops a file into `root`'s inbox the Maildir way: write `tmp/NAME`, fsync, rename into
    /// `new/NAME`, fsync `new/`. NAME is unique (time, pid, random). Returns NAME.
    public static func drop(_ bytes: [UInt8], into root: ServerRoot, suffix: String) throws -> String {
        let name = uniqueName(suffix: suffix)
        let sink = try FileSink(path: "\(root.inboxTemporary)/\(name)")
        try sink.write(bytes)
        try sink.commit(mode: 0o644, durable: true)
        try publish(name, in: root)
        return name
    }

    /// Moves `tmp/NAME` (already written and fsynced) into `new/`.
    public static func publish(_ name: String, in root: ServerRoot) throws {
        guard rename("\(root.inboxTemporary)/\(name)", "\(root.inboxNew)/\(name)") == 0 else {
            throw IOFailure(call: "rename", path: "\(root.inboxNew)/\(name)", code: errno)
        }
        try AtomicFile.syncDirectory(root.inboxNew)
    }

    public static func uniqueName(suffix: String) -> String {
        let now = Date().timeIntervalSince1970
        let random = UUID().uuidString.prefix(8).lowercased()
        return "\(Int(now)).\(Int((now - now.rounded(.down)) * 1e6)).P\(getpid())R\(random)\(suffix)"
    }
}
