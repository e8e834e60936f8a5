import CLinux
import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// Accepted envelopes, stored by the SHA-256 of their bytes: `blobs/ab/abcdef....seal`.
public struct BlobStore: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    public func path(for hash: String) -> String {
        "\(directory)/\(hash.prefix(2))/\(hash).seal"
    }

    public func shard(for hash: String) -> String {
        "\(directory)/\(hash.prefix(2))"
    }

    /// Stores the server's own verified copy `source`, whose SHA-256 is `hash`, by linking it
    /// into place: nothing is read again, so the blob is the bytes that were verified.
    /// Storing the same bytes twice is harmless. Nothing is fsynced here: the batch's blobs
    /// become durable by `sync`, which must return before their rows commit.
    func adopt(_ source: String, hash: String) throws {
        try ServerRoot.makeDirectory(shard(for: hash), mode: 0o700)
        guard link(source, path(for: hash)) == 0 || errno == EEXIST else {
            throw IOFailure(call: "link", path: path(for: hash), code: errno)
        }
        // Readable by requesters through the hard links fetch answers are; blobs/ itself is
        // closed (0700), so nobody lists or reaches the store.
        guard chmod(path(for: hash), 0o644) == 0 else { throw IOFailure(call: "chmod", path: path(for: hash), code: errno) }
    }

    /// Stores one member of a verified bundle copy (FORMAT.md §13), whose SHA-256 is `hash`:
    /// its bytes, copied out of the server's own copy, appear under their name only once
    /// complete (an unnamed file linked into place). Nothing is fsynced here either.
    func store(_ member: FileWindow, hash: String) throws {
        try ServerRoot.makeDirectory(shard(for: hash), mode: 0o700)
        var source = member
        var sink = try FileSink(path: path(for: hash))
        do {
            try source.copy(to: &sink)
            try sink.commit(mode: 0o644, durable: false)
        } catch let failure as IOFailure where failure.code == EEXIST {
            // Stored already, by an earlier attempt or another member: the same bytes.
            sink.discard()
        }
    }

    /// A blob kept elsewhere (a catalogue on PostgreSQL) written here: `read` hands its bytes
    /// over in order and returns false when it has none. They take the blob's name only once
    /// complete, durable, and shown to have its hash. Returns false when `read` had none.
    func restore(_ hash: String, from read: (_ body: ([UInt8]) throws -> Void) throws -> Bool) throws -> Bool {
        try ServerRoot.makeDirectory(shard(for: hash), mode: 0o700)
        let sink = try FileSink(path: path(for: hash))
        var hasher = SHA256()
        do {
            guard try read({ bytes in
                hasher.update(data: bytes)
                try sink.write(bytes)
            }) else {
                sink.discard()
                return false
            }
            guard hasher.finalize().hex == hash else {
                throw EnvelopeError.malformed("the catalogue's copy of blob \(hash) does not have that SHA-256")
            }
            try sink.commit(mode: 0o644, durable: true)
        } catch let failure as IOFailure where failure.code == EEXIST {
            // Restored meanwhile by another fetch: the same bytes.
            sink.discard()
        } catch {
            sink.discard()
            throw error
        }
        try AtomicFile.sync(shard(for: hash))
        return true
    }

    /// Makes the blobs `hashes` durable, with the directory entries naming them, before
    /// their rows commit: writeback of every file is started at once, then each is fsynced,
    /// then each shard holding one and the store. Only these files are written: the claim
    /// copies they came from are removed before the kernel would write them (a syncfs(2) of
    /// the file system wrote both, and whatever else was waiting).
    func sync(_ hashes: [String]) throws {
        var files: [(path: String, fd: Int32)] = []
        defer { files.forEach { close($0.fd) } }
        for path in Set(hashes).map(path(for:)) {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
            files.append((path, fd))
            _ = sealdrop_start_writeback(fd)
        }
        for (path, fd) in files {
            guard fsync(fd) == 0 else { throw IOFailure(call: "fsync", path: path, code: errno) }
        }
        for path in Set(hashes.map(shard(for:))).sorted() + [directory] {
            try AtomicFile.sync(path)
        }
    }

    /// Every stored blob's hash, from the file names.
    public func hashes() throws -> [String] {
        var found: [String] = []
        for shard in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where shard.count == 2 {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: "\(directory)/\(shard)")) ?? [] where file.hasSuffix(".seal") {
                found.append(String(file.dropLast(5)))
            }
        }
        return found.sorted()
    }

    /// Removes a stored blob; one already gone is fine.
    public func remove(_ hash: String) throws {
        guard unlink(path(for: hash)) == 0 || errno == ENOENT else {
            throw IOFailure(call: "unlink", path: path(for: hash), code: errno)
        }
    }

    /// SHA-256 of the stored bytes (for fsck).
    public func digest(of hash: String) throws -> String {
        var input = try FileSource(path: path(for: hash), followSymlinks: false)
        return try input.sha256().hex
    }
}
