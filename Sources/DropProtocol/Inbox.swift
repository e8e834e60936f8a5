import Foundation
import SealEnvelope
import SealPKI

/// The Maildir-style inbox: writers create `inbox/tmp/NAME`, fsync, and rename it into
/// `inbox/new/NAME`; the server only ever reads `inbox/new/`.
public enum Inbox {
    /// The largest drop a server takes unless its administrator says otherwise (the
    /// ingester's `--max-size`, the gateway's upload limit); `post` keeps its bundles within it.
    public static let defaultMaximumDropBytes = 256 << 20

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

    /// The pid of the process that made `name` with `uniqueName`, or nil for another name.
    public static func writer(of name: String) -> pid_t? {
        guard let p = name.firstIndex(of: "P"), let r = name[p...].firstIndex(of: "R") else { return nil }
        return pid_t(name[name.index(after: p)..<r])
    }

    public static func uniqueName(suffix: String) -> String {
        let now = Date().timeIntervalSince1970
        let random = UUID().uuidString.prefix(8).lowercased()
        return "\(Int(now)).\(Int((now - now.rounded(.down)) * 1e6)).P\(getpid())R\(random)\(suffix)"
    }
}
