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

    /// Copies `source` into the store durably (temporary file, fsync, rename, fsync the
    /// directory) and returns its hash. Storing the same bytes twice is harmless.
    public func store(_ source: String) throws -> String {
        var input = try FileSource(path: source, followSymlinks: false)
        let staging = "\(directory)/.incoming"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let sink = try FileSink(path: "\(staging)/\(UUID().uuidString)")
        var hasher = SHA256()
        while true {
            let chunk = try input.read(upTo: 1 << 20)
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
            try sink.write(chunk)
        }
        let hash = hasher.finalize().hex
        let target = path(for: hash)
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try sink.commit(mode: 0o644, replace: true, durable: true)
        guard rename(sink.path, target) == 0 else { throw IOFailure(call: "rename", path: target, code: errno) }
        try AtomicFile.syncDirectory((target as NSString).deletingLastPathComponent)
        return hash
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

    /// SHA-256 of the stored bytes (for fsck).
    public func digest(of hash: String) throws -> String {
        var input = try FileSource(path: path(for: hash), followSymlinks: false)
        var hasher = SHA256()
        while true {
            let chunk = try input.read(upTo: 1 << 20)
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().hex
    }
}
