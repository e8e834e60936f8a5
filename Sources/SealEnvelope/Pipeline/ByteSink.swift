import Foundation
import SealPKI

/// Where envelope or plaintext bytes go.
public protocol ByteSink {
    mutating func write(_ bytes: [UInt8]) throws
}

/// Bytes collected in memory.
public struct MemorySink: ByteSink {
    public private(set) var bytes: [UInt8] = []
    public init() {}
    public mutating func write(_ bytes: [UInt8]) throws { self.bytes += bytes }
}

/// Bytes counted and dropped: for checking an envelope (every MAC verified) without keeping
/// the plaintext, and for measuring the pipeline without memory copies.
public struct DiscardingSink: ByteSink {
    public private(set) var count = 0
    public init() {}
    public mutating func write(_ bytes: [UInt8]) throws { count += bytes.count }
}

/// A file that appears only when committed: bytes go to a temporary file beside the target
/// (mode 0600), which `commit` fsyncs and moves into place; `discard` (or dropping an
/// uncommitted sink) removes it. A reader of the target never sees a partial file.
public final class FileSink: ByteSink {
    public let path: String
    let temporaryPath: String
    private var fd: Int32
    private var committed = false

    /// `mode` applies to the final file.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        let name = (path as NSString).lastPathComponent
        temporaryPath = (directory.isEmpty ? "." : directory) + "/.\(name).partial-\(UUID().uuidString.prefix(8))"
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw IOFailure(call: "open", path: temporaryPath, code: errno) }
    }

    deinit {
        if !committed { discard() }
    }

    public func write(_ bytes: [UInt8]) throws {
        try AtomicFile.writeAll(bytes, to: fd, path: temporaryPath)
    }

    /// fsyncs the data, sets `mode`, and moves the file into place. Without `replace`, an
    /// existing target is left alone and `IOFailure` (EEXIST) is thrown.
    public func commit(mode: mode_t = 0o644, replace: Bool = false, durable: Bool = true) throws {
        guard fchmod(fd, mode) == 0 else { throw IOFailure(call: "fchmod", path: path, code: errno) }
        if durable { guard fsync(fd) == 0 else { throw IOFailure(call: "fsync", path: path, code: errno) } }
        close(fd)
        fd = -1
        if replace {
            guard rename(temporaryPath, path) == 0 else { throw IOFailure(call: "rename", path: path, code: errno) }
        } else {
            guard link(temporaryPath, path) == 0 else { throw IOFailure(call: "link", path: path, code: errno) }
            unlink(temporaryPath)
        }
        committed = true
        if durable {
            let directory = (path as NSString).deletingLastPathComponent
            try AtomicFile.syncDirectory(directory.isEmpty ? "." : directory)
        }
    }

    /// Removes the temporary file; the target is untouched.
    public func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        committed = true
    }
}
