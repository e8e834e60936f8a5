import Foundation

/// Writes files so that a reader sees either nothing or the whole file, never a part:
/// write a temporary file beside the target (created with its final mode, never wider),
/// fsync it, then link it into place and fsync the directory.
public enum AtomicFile {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case exists(String)
        case system(call: String, path: String, errno: Int32)

        public var description: String {
            switch self {
            case .exists(let path): "\(path) already exists"
            case .system(let call, let path, let code): "\(path): \(call) failed: \(String(cString: strerror(code)))"
            }
        }
    }

    /// Writes every file in `files` (path, bytes, mode) or none of them. Existing files are
    /// refused unless `replace` is set.
    public static func write(_ files: [(path: String, bytes: [UInt8], mode: mode_t)], replace: Bool = false) throws {
        if !replace {
            for file in files where FileManager.default.fileExists(atPath: file.path) {
                throw Failure.exists(file.path)
            }
        }
        var temporaries: [String] = []
        defer { temporaries.forEach { unlink($0) } }
        for file in files {
            temporaries.append(try writeTemporary(file.bytes, beside: file.path, mode: file.mode))
        }
        var placed: [String] = []
        do {
            for (temporary, file) in zip(temporaries, files) {
                if replace {
                    guard rename(temporary, file.path) == 0 else { throw Failure.system(call: "rename", path: file.path, errno: errno) }
                } else {
                    // link(2) refuses to replace an existing file, closing the check-then-write race.
                    guard link(temporary, file.path) == 0 else {
                        throw errno == EEXIST ? Failure.exists(file.path) : Failure.system(call: "link", path: file.path, errno: errno)
                    }
                }
                placed.append(file.path)
            }
        } catch {
            if !replace { placed.forEach { unlink($0) } }
            throw error
        }
        for directory in Set(files.map { PathText.directory(of: $0.path) }) {
            try syncDirectory(directory)
        }
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t = 0o644, replace: Bool = false) throws {
        try write([(path, bytes, mode)], replace: replace)
    }

    public static func write(_ text: String, to path: String, mode: mode_t = 0o644, replace: Bool = false) throws {
        try write(Array(text.utf8), to: path, mode: mode, replace: replace)
    }

    /// Whether `name` is one of the temporaries written beside a target: one that a kill left
    /// behind is removed by whoever owns the directory.
    public static func isTemporary(_ name: String) -> Bool {
        name.hasPrefix(".sd-") && name.hasSuffix(".tmp")
    }

    private static func writeTemporary(_ bytes: [UInt8], beside path: String, mode: mode_t) throws -> String {
        // Fixed length whatever the target's name, so a 255-byte name still fits (`isTemporary`).
        let temporary = "\(PathText.directory(of: path))/.sd-\(UUID().uuidString.prefix(8).lowercased()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
        guard fd >= 0 else { throw Failure.system(call: "open", path: temporary, errno: errno) }
        defer { close(fd) }
        do {
            try writeAll(bytes, to: fd, path: temporary)
            // The umask may have narrowed the mode; never widen it beyond what was asked.
            guard fchmod(fd, mode) == 0 else { throw Failure.system(call: "fchmod", path: temporary, errno: errno) }
            guard fsync(fd) == 0 else { throw Failure.system(call: "fsync", path: temporary, errno: errno) }
        } catch {
            unlink(temporary)
            throw error
        }
        return temporary
    }

    /// Writes every byte of `bytes` to `fd`, retrying short writes and EINTR.
    public static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw Failure.system(call: "write", path: path, errno: errno)
                }
                offset += n
            }
        }
    }

    /// fsyncs a directory so that a rename or link in it survives a crash.
    public static func syncDirectory(_ path: String) throws {
        try sync(path, flags: O_DIRECTORY)
    }

    /// fsyncs the file or directory at `path` (opened with `flags` besides read-only).
    public static func sync(_ path: String, flags: Int32 = 0) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | flags)
        guard fd >= 0 else { throw Failure.system(call: "open", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure.system(call: "fsync", path: path, errno: errno) }
    }
}
