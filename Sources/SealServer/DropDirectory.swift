import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope

/// A name in a directory others write, kept as the bytes the writer chose: it is never
/// decoded to find, open, move or remove the file, so a name that is not UTF-8 or holds a
/// newline is handled like any other.
struct RawName: Hashable, Sendable {
    let bytes: [UInt8]

    /// The name for logs and JSON: UTF-8 text as it is, every control or format character,
    /// backslash and byte that is not UTF-8 escaped, so no name can forge a log line.
    var display: String {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return bytes.map { (0x20..<0x7F).contains($0) && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : Self.hex($0) }
                .joined()
        }
        return LogText.escaped(text)
    }

    var hex: String { bytes.hexString }

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    init?(hex: String) {
        guard let bytes = [UInt8](hexString: hex), !bytes.isEmpty else { return nil }
        self.bytes = bytes
    }

    private static func hex(_ byte: UInt8) -> String { "\\x" + [byte].hexString }

    /// Calls `body` with the name as a C string.
    func withCString<T>(_ body: (UnsafePointer<CChar>) throws -> T) rethrows -> T {
        try (bytes + [0]).withUnsafeBufferPointer { buffer in
            try buffer.withMemoryRebound(to: CChar.self) { try body($0.baseAddress!) }
        }
    }
}

/// An open directory whose entries are read, opened, moved and removed by raw name, with
/// every system call's failure named (docs/SERVER.md, "Claiming drops").
final class DropDirectory {
    let path: String
    let fd: Int32

    init(_ path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
    }

    deinit { close(fd) }

    /// Every entry but `.` and `..`.
    func entries() throws -> [RawName] {
        let copy = dup(fd)
        guard copy >= 0, let stream = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            throw IOFailure(call: "fdopendir", path: path, code: errno)
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var names: [RawName] = []
        while let entry = readdir(stream) {
            let bytes = withUnsafeBytes(of: &entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if bytes == [UInt8(ascii: ".")] || bytes == [UInt8(ascii: "."), UInt8(ascii: ".")] { continue }
            names.append(RawName(bytes))
        }
        return names
    }

    /// lstat of an entry; nil when it is gone.
    func status(_ name: RawName) -> stat? {
        var info = stat()
        return name.withCString { fstatat(fd, $0, &info, AT_SYMLINK_NOFOLLOW) } == 0 ? info : nil
    }

    /// Opens an entry for reading without following a symlink or blocking on a FIFO.
    func openForReading(_ name: RawName) -> Int32 {
        name.withCString { openat(fd, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
    }

    /// Removes an entry; true when it is gone (or was already).
    @discardableResult
    func remove(_ name: RawName) -> Bool {
        name.withCString { unlinkat(fd, $0, 0) } == 0 || errno == ENOENT
    }

    /// Moves an entry to `target`, an absolute path; the errno on failure.
    func move(_ name: RawName, to target: String) -> Int32? {
        name.withCString { renameat(fd, $0, AT_FDCWD, target) } == 0 ? nil : errno
    }

    func sync() throws {
        guard fsync(fd) == 0 else { throw IOFailure(call: "fsync", path: path, code: errno) }
    }
}
