import CLinux
import Foundation
import SealPKI

/// Where envelope or plaintext bytes go.
public protocol ByteSink {
    mutating func write(_ bytes: [UInt8]) throws
    /// Whether what is written is out of reach at once (a stream), rather than kept until
    /// the writer commits it (a file that appears only when complete).
    var releasesAsWritten: Bool { get }
    /// Makes room for `byteCount` bytes about to be written, where the sink can: a full disk
    /// is then told before any work, not after.
    mutating func reserve(_ byteCount: UInt64) throws
}

extension ByteSink {
    public var releasesAsWritten: Bool { false }
    public mutating func reserve(_ byteCount: UInt64) throws {}
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

/// A file that appears only when committed. Bytes go to an unnamed file (`O_TMPFILE`) in the
/// target's directory, which `commit` fsyncs and links into place; until then the file has
/// no name, so nothing is left behind whatever kills the process (no plaintext
/// `.partial` file after a SIGKILL during `open` or `fetch`). Where the file system has no
/// `O_TMPFILE`, a short fixed-length temporary name is used instead (`.sd-XXXXXXXX.partial`,
/// never the target's name plus a suffix, so a 255-byte name still fits).
public final class FileSink: ByteSink {
    public let path: String
    let directory: String
    /// The fallback's temporary name; nil while the file is unnamed.
    private var temporaryPath: String?
    private var fd: Int32
    private var committed = false
    /// Set when the file is written as armour (FORMAT.md §12).
    private var armor: ArmorEncoder?
    /// The room made for the file before it was this sink's (`OutputRoom`), until settled.
    private var room: OutputRoom?
    /// The room's size once made: the file is cut back at commit to what was written (its
    /// offset then), the room having been made for more.
    private var roomBytes: UInt64 = 0

    /// With `armor`, the bytes written are stored as armour, completed by `commit`. A `room`
    /// made in the file's folder becomes the file (the room in any other folder is given up).
    public init(path: String, armor: Bool = false, room: OutputRoom? = nil) throws {
        self.path = path
        self.armor = armor ? ArmorEncoder() : nil
        directory = PathText.directory(of: path)
        if !armor, let room, room.directory == directory {
            fd = room.take()
            self.room = room
            return
        }
        fd = open(directory, FileSink.unnamedFile | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0 {
            guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL else {
                throw IOFailure(call: "open", path: path, code: errno)
            }
            let temporary = FileSink.temporaryName(in: directory, suffix: FileSink.partialSuffix)
            fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw IOFailure(call: "open", path: temporary, code: errno) }
            // Held while the file is written: a partial file nobody holds was abandoned.
            flock(fd, LOCK_EX)
            temporaryPath = temporary
        }
    }

    deinit {
        if !committed { discard() }
    }

    public func write(_ bytes: [UInt8]) throws {
        settleRoom()
        try AtomicFile.writeAll(armor?.encode(bytes) ?? bytes, to: fd, path: path)
    }

    /// Allocates the file's blocks (`fallocate`) for `byteCount` bytes written plain (not for
    /// armour, whose length differs): ENOSPC or EDQUOT is thrown now. A file system without
    /// fallocate is written as before. Room made already (`OutputRoom`) is waited for, and
    /// counts if it is enough; if it failed (it asked for more), the exact room is asked for.
    public func reserve(_ byteCount: UInt64) throws {
        guard armor == nil, byteCount > 0, let length = off_t(exactly: byteCount) else { return }
        settleRoom()
        guard roomBytes < byteCount else { return }
        guard sealdrop_allocate(fd, length) == 0 || [EOPNOTSUPP, ENOSYS, EINTR].contains(errno) else {
            throw IOFailure(call: "fallocate", path: path, code: errno)
        }
    }

    /// Waits for the room's fallocate, which has this file's descriptor, before anything else
    /// uses it; a failed one is undone.
    private func settleRoom() {
        guard let room else { return }
        self.room = nil
        if room.settle() == 0 { roomBytes = room.byteCount } else { _ = ftruncate(fd, 0) }
    }

    /// fsyncs the data, sets `mode`, and puts the file in place. Without `replace`, an
    /// existing target is left alone and `IOFailure` (EEXIST) is thrown.
    public func commit(mode: mode_t = 0o644, replace: Bool = false, durable: Bool = true) throws {
        if let last = armor?.finish() {
            armor = nil
            try AtomicFile.writeAll(last, to: fd, path: path)
        }
        settleRoom()
        if roomBytes > 0 {
            // Written from the start on, so the offset is what was written.
            let written = lseek(fd, 0, SEEK_CUR)
            guard written >= 0, ftruncate(fd, written) == 0 else { throw IOFailure(call: "ftruncate", path: path, code: errno) }
        }
        guard fchmod(fd, mode) == 0 else { throw IOFailure(call: "fchmod", path: path, code: errno) }
        if durable { guard fsync(fd) == 0 else { throw IOFailure(call: "fsync", path: path, code: errno) } }
        if temporaryPath == nil {
            // Give the unnamed file a name: the target itself, or a short one to rename over it.
            let named = replace ? FileSink.temporaryName(in: directory, suffix: "tmp") : path
            guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, named, AT_SYMLINK_FOLLOW) == 0 else {
                throw IOFailure(call: "linkat", path: path, code: errno)
            }
            temporaryPath = replace ? named : nil
        }
        close(fd)
        fd = -1
        if let temporary = temporaryPath {
            if replace {
                guard rename(temporary, path) == 0 else { throw IOFailure(call: "rename", path: path, code: errno) }
            } else {
                guard link(temporary, path) == 0 else { throw IOFailure(call: "link", path: path, code: errno) }
                unlink(temporary)
            }
            temporaryPath = nil
        }
        committed = true
        if durable { try AtomicFile.syncDirectory(directory) }
    }

    /// Linux's O_TMPFILE (`__O_TMPFILE | O_DIRECTORY`), a macro Glibc's module does not export.
    static let unnamedFile: Int32 = 0o20_000_000 | O_DIRECTORY

    /// `DIR/.sd-XXXXXXXX.SUFFIX`: fixed length, whatever the target's name.
    static func temporaryName(in directory: String, suffix: String) -> String {
        "\(directory)/.sd-\(UUID().uuidString.prefix(8).lowercased()).\(suffix)"
    }

    /// A file at `path` holding what `body` writes (as armour with `armor`), committed when
    /// `body` returns; when anything throws, nothing appears.
    public static func create<T>(
        _ path: String, mode: mode_t = 0o644, replace: Bool, durable: Bool, armor: Bool = false, room: OutputRoom? = nil,
        _ body: (inout FileSink) throws -> T
    ) throws -> T {
        var sink = try FileSink(path: path, armor: armor, room: room)
        do {
            let result = try body(&sink)
            try sink.commit(mode: mode, replace: replace, durable: durable)
            return result
        } catch {
            sink.discard()
            throw error
        }
    }

    static let partialSuffix = "partial"

    /// Removes the named partial files (`.sd-XXXXXXXX.partial`, the fallback where there is no
    /// `O_TMPFILE`) that a killed process left in `directory`: those of this user that no
    /// live writer holds locked. Returns their paths.
    @discardableResult
    public static func removeAbandoned(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var removed: [String] = []
        for name in names where name.hasPrefix(".sd-") && name.hasSuffix("." + partialSuffix) && name.utf8.count == 20 {
            let path = PathText.join(directory, name)
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_uid == geteuid(),
                  flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if unlink(path) == 0 { removed.append(path) }
        }
        return removed
    }

    /// Removes the temporary file; the target is untouched.
    public func discard() {
        settleRoom()
        if fd >= 0 { close(fd); fd = -1 }
        if let temporaryPath { unlink(temporaryPath) }
        temporaryPath = nil
        committed = true
    }
}

extension FileSink {
    /// Creates an empty database file at `path`, mode 0600 whatever the umask (SQLite gives
    /// its -wal and -shm files the same mode), unless a file is there: an existing database
    /// is never opened here. Closing any descriptor of a database drops every POSIX lock this
    /// process holds on it, its open connections' too; another process closing its own
    /// connection then takes itself for the last, checkpoints and deletes the -wal and -shm
    /// from under the connections still open.
    public static func createPrivateDatabase(_ path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return }
            throw IOFailure(call: "open", path: path, code: errno)
        }
        fchmod(fd, 0o600)
        close(fd)
    }
}

/// An unnamed file (`O_TMPFILE`) made in the folder an output will go in, before its name
/// is known, with room for `byteCount` bytes allocated on a thread of its own: `open` makes
/// it, for the envelope's size (more than its payload), while its first pass verifies the
/// envelope, and the output's `FileSink` then takes it (trimmed at commit to what was
/// written). fallocate of a large file on tmpfs keeps a core busy for a while (0.22-0.24 s
/// a GiB), holding the file's lock, so beside the writes of the second pass it would only
/// make them wait; after the first pass and before the second, one core did it alone. A
/// file system without `O_TMPFILE` gets no room made early (nil), as one that cannot
/// allocate gets none at all; nor does a file under `smallest`, whose fallocate takes less
/// than starting the thread.
public final class OutputRoom: @unchecked Sendable {
    /// 4 MiB: under a millisecond of fallocate on tmpfs.
    static let smallest: UInt64 = 4 << 20

    // `fd` is given away at most once, by `take`, before the sink settles the room.
    public let directory: String
    let byteCount: UInt64
    private var fd: Int32
    /// fallocate's errno, or 0.
    private let allocated: Pending<Int32>

    public init?(directory: String, byteCount: UInt64) {
        guard byteCount >= Self.smallest, let length = off_t(exactly: byteCount) else { return nil }
        let fd = open(directory, FileSink.unnamedFile | O_WRONLY | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return nil }
        // Spelt as a sink's folder is (PathText.directory), whatever slashes `directory` ends in.
        self.directory = PathText.directory(of: PathText.join(directory, "output"))
        (self.byteCount, self.fd) = (byteCount, fd)
        allocated = Pending { sealdrop_allocate(fd, length) == 0 ? 0 : errno }
    }

    /// Waits for the allocation; its errno, or 0.
    func settle() -> Int32 { (try? allocated.value()) ?? EIO }

    /// The file, for a sink, which settles the room before it uses it.
    func take() -> Int32 {
        defer { fd = -1 }
        return fd
    }

    deinit {
        if fd >= 0 {
            _ = settle()
            close(fd)
        }
    }
}
