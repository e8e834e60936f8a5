import Foundation
import GcryptKit

/// Where envelope bytes come from: a file, or memory. One method plus a skip.
public protocol ByteSource {
    /// Up to `count` bytes; fewer only at the end of the input; [] at the end.
    mutating func read(upTo count: Int) throws -> [UInt8]
    /// Skips `count` bytes (a seek for files); returns how many were skipped.
    mutating func skip(_ count: Int) throws -> Int
    /// The next `count` bytes, fewer only at the end of the input, to be read by whoever
    /// holds the result (a chunk worker): the source moves past them now. A file is read
    /// there with pread(2), so that the reading is spread over the workers; other sources
    /// read them now.
    mutating func readLater(upTo count: Int) throws -> LaterBytes
}

/// Bytes of a source that `readLater` moved past, read when `read()` is called, on any
/// thread: from the file at their position, or from memory when the source read them then.
public struct LaterBytes: Sendable {
    public let count: Int
    private let reading: @Sendable () throws -> [UInt8]

    init(count: Int, reading: @escaping @Sendable () throws -> [UInt8]) {
        self.count = count
        self.reading = reading
    }

    init(_ bytes: [UInt8]) {
        self.init(count: bytes.count) { bytes }
    }

    /// `count` bytes at `offset` of `descriptor`; the file at `path` must still have them.
    init(count: Int, at offset: Int, of descriptor: FileSource.Descriptor, path: String) {
        self.init(count: count) {
            let bytes = try FileSource.fill(count, call: "pread", label: path) { pread(descriptor.fd, $0, $1, off_t(offset + $2)) }
            guard bytes.count == count else {
                throw IOFailure(call: "pread", path: path, code: EIO, reason: "the file became shorter while it was read (was it changed?)")
            }
            return bytes
        }
    }

    public func read() throws -> [UInt8] { try reading() }
}

extension ByteSource {
    /// Exactly `count` bytes, or `error` when the input ends first.
    mutating func read(exactly count: Int, or error: EnvelopeError) throws -> [UInt8] {
        let out = try read(exactly: count, orShortAtEnd: ())
        guard out.count == count else { throw error }
        return out
    }

    /// Up to `count` bytes, short only at the end of the input.
    mutating func read(exactly count: Int, orShortAtEnd: Void) throws -> [UInt8] {
        var out = try read(upTo: count)
        while out.count < count {
            let more = try read(upTo: count - out.count)
            if more.isEmpty { break }
            out += more
        }
        return out
    }

    /// SHA-256 of everything left, read a megabyte at a time.
    public mutating func sha256() throws -> SHA256Digest {
        var hasher = SHA256()
        while true {
            let block = try read(upTo: 1 << 20)
            if block.isEmpty { break }
            hasher.update(data: block)
        }
        return hasher.finalize()
    }

    /// Writes everything left to `sink`, a megabyte at a time.
    public mutating func copy(to sink: inout some ByteSink) throws {
        while case let block = try read(upTo: 1 << 20), !block.isEmpty { try sink.write(block) }
    }

    public mutating func readLater(upTo count: Int) throws -> LaterBytes {
        LaterBytes(try read(exactly: count, orShortAtEnd: ()))
    }

    /// Exactly `count` bytes read later (`readLater(upTo:)`), or `error` when the input ends first.
    mutating func readLater(exactly count: Int, or error: EnvelopeError) throws -> LaterBytes {
        let later = try readLater(upTo: count)
        guard later.count == count else { throw error }
        return later
    }

    /// True when no byte is left.
    mutating func isAtEnd() throws -> Bool {
        try read(upTo: 1).isEmpty
    }
}

/// Bytes held in memory.
public struct MemorySource: ByteSource {
    let bytes: [UInt8]
    var offset = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public mutating func read(upTo count: Int) throws -> [UInt8] {
        let end = min(bytes.count, offset + count)
        defer { offset = end }
        return Array(bytes[offset..<end])
    }

    public mutating func skip(_ count: Int) throws -> Int {
        let end = min(bytes.count, offset + count)
        defer { offset = end }
        return end - offset
    }
}

/// An open file read with read(2); closed when the last copy goes away.
public struct FileSource: ByteSource, Sendable {
    final class Descriptor: Sendable {
        let fd: Int32
        init(_ fd: Int32) { self.fd = fd }
        deinit { close(fd) }
    }

    let descriptor: Descriptor
    public let path: String

    /// Opens `path` for reading, refusing anything but a regular file (no FIFOs, devices,
    /// directories), and, with `followSymlinks` false, refusing a symlink.
    public init(path: String, followSymlinks: Bool = true) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW) | O_NONBLOCK)
        guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw IOFailure(call: "open", path: path, code: EINVAL, reason: "not a regular file")
        }
        // Blocking reads from here on.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        descriptor = Descriptor(fd)
        self.path = path
    }

    /// Takes ownership of an open, seekable descriptor (a spool file).
    init(descriptor fd: Int32, path: String) {
        descriptor = Descriptor(fd)
        self.path = path
    }

    /// The file's size when opened.
    public var size: Int {
        var info = stat()
        fstat(descriptor.fd, &info)
        return Int(info.st_size)
    }

    /// Moves back to the start (for a second pass).
    public func rewind() throws {
        guard lseek(descriptor.fd, 0, SEEK_SET) == 0 else { throw IOFailure(call: "lseek", path: path, code: errno) }
    }

    public mutating func read(upTo count: Int) throws -> [UInt8] {
        try Self.read(descriptor.fd, upTo: count, label: path)
    }

    /// Up to `count` bytes from `fd`, fewer only at its end; short reads and EINTR retried.
    /// A request past the file's end (everything up to a limit) allocates only what is left.
    static func read(_ fd: Int32, upTo requested: Int, label: String) throws -> [UInt8] {
        var count = requested
        var info = stat()
        if count > 1 << 16, fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            let here = lseek(fd, 0, SEEK_CUR)
            if here >= 0 { count = min(count, max(0, Int(info.st_size) - Int(here))) }
        }
        return try fill(count, call: "read", label: label) { buffer, wanted, _ in Glibc.read(fd, buffer, wanted) }
    }

    /// `count` bytes from `next(buffer, wanted, filled)` (a read(2) or pread(2) into `buffer`
    /// of the `wanted` bytes still missing, `filled` being read already), fewer only at the
    /// end; short reads and EINTR retried.
    static func fill(_ count: Int, call: String, label: String, _ next: (UnsafeMutableRawPointer, Int, Int) -> Int) throws -> [UInt8] {
        guard count > 0 else { return [] }
        // Not zeroed first: only what was read becomes the array's.
        return try [UInt8](unsafeUninitializedCapacity: count) { buffer, filled in
            while filled < count {
                let n = next(UnsafeMutableRawPointer(buffer.baseAddress! + filled), count - filled, filled)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw IOFailure(call: call, path: label, code: errno)
                }
                if n == 0 { break }
                filled += n
            }
        }
    }

    public mutating func skip(_ count: Int) throws -> Int {
        let here = lseek(descriptor.fd, 0, SEEK_CUR)
        let end = lseek(descriptor.fd, 0, SEEK_END)
        let target = min(end, here + off_t(count))
        guard lseek(descriptor.fd, target, SEEK_SET) == target else { throw IOFailure(call: "lseek", path: path, code: errno) }
        return Int(target - here)
    }

    public mutating func readLater(upTo count: Int) throws -> LaterBytes {
        let here = lseek(descriptor.fd, 0, SEEK_CUR)
        guard here >= 0 else { throw IOFailure(call: "lseek", path: path, code: errno) }
        return LaterBytes(count: try skip(count), at: Int(here), of: descriptor, path: path)
    }
}

/// A part of an open file (one member of a bundle, FORMAT.md §13) read as a file of its own:
/// positioned reads (pread), so several windows on one descriptor may be read at once.
public struct FileWindow: ByteSource, Sendable {
    let descriptor: FileSource.Descriptor
    public let path: String
    public let range: Range<Int>
    private var position: Int

    public init(_ file: FileSource, range: Range<Int>) {
        descriptor = file.descriptor
        path = file.path
        self.range = range
        position = range.lowerBound
    }

    public mutating func read(upTo count: Int) throws -> [UInt8] {
        let wanted = min(count, range.upperBound - position)
        guard wanted > 0 else { return [] }
        let fd = descriptor.fd, start = position
        let out = try FileSource.fill(wanted, call: "pread", label: path) { pread(fd, $0, $1, off_t(start + $2)) }
        position += out.count
        return out
    }

    public mutating func skip(_ count: Int) throws -> Int {
        let skipped = min(max(0, count), range.upperBound - position)
        position += skipped
        return skipped
    }

    public mutating func readLater(upTo count: Int) throws -> LaterBytes {
        let start = position
        return LaterBytes(count: try skip(count), at: start, of: descriptor, path: path)
    }
}

/// A failed system call on a file, naming both.
public struct IOFailure: Error, Equatable, CustomStringConvertible {
    public let call: String
    public let path: String
    public let code: Int32
    public var reason: String?

    public init(call: String, path: String, code: Int32, reason: String? = nil) {
        self.call = call
        self.path = path
        self.code = code
        self.reason = reason
    }

    public var description: String {
        "\(path): \(reason ?? String(cString: strerror(code))) (\(call))"
    }
}
