import Foundation
import SealEnvelope
import SealPKI

/// The Maildir-style inbox: writers create `inbox/tmp/NAME`, fsync, and rename it into
/// `inbox/new/NAME`; the server only ever reads `inbox/new/`.
public enum Inbox {
    /// What a drop looks like before it is read.
    enum Kind: Equatable {
        case envelope
        case request
        case refused(String)
        /// Gone between listing and looking (another process took it).
        case vanished
    }

    /// Names waiting in `directory`, oldest first (by modification time, then name), at most `limit`.
    static func pending(_ directory: String, limit: Int) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        var dated: [(String, Double)] = []
        for name in names {
            var info = stat()
            guard lstat("\(directory)/\(name)", &info) == 0 else { continue }
            dated.append((name, Double(info.st_mtim.tv_sec) + Double(info.st_mtim.tv_nsec) / 1e9))
        }
        return dated.sorted { ($0.1, $0.0) < ($1.1, $1.0) }.prefix(limit).map(\.0)
    }

    /// Looks at a drop without following it: only a non-empty regular file under the size
    /// limit, starting like an envelope or a PEM certificate request, is read further.
    static func classify(_ path: String, maximumBytes: Int) -> Kind {
        var info = stat()
        guard lstat(path, &info) == 0 else { return .vanished }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK: return .refused("a symbolic link (never followed)")
        case S_IFDIR: return .refused("a directory")
        default: return .refused("not a regular file")
        }
        guard info.st_size > 0 else { return .refused("an empty file") }
        guard info.st_size <= maximumBytes else { return .refused("larger than the \(maximumBytes)-byte limit (\(info.st_size) bytes)") }
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return errno == ENOENT ? .vanished : .refused("cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 36)
        let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let prefix = Array(head.prefix(max(0, n)))
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
