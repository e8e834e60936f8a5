import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// Drops taken out of their writers' reach (docs/SERVER.md, "Claiming drops"). Each inbox
/// entry is read once, through a descriptor checked to be a regular file, into `work/ID.drop`
/// in a directory only the server writes, hashed as it is copied, with a note `work/ID.json`.
/// Verification, storing and quarantine all use the copy, so what was verified is what is
/// stored, whatever the writer does to its file afterwards. The inbox entry stays (skipped by
/// later listings) until the drop is dealt with, so the claim needs no fsync: a copy a crash
/// lost or damaged is found by its hash at the next start and claimed again from the entry.
/// An accepted copy is made durable with its batch (BlobStore.sync) before its commit.
///
/// While the drop is examined its note is named `work/ID.examining` instead (a rename: no
/// new file, which on ext4 costs an inode allocation per drop). A note found under that name
/// at start-up is a drop the process died on: it becomes `ID.retry`, and is examined again
/// alone, as `ID.retrying`. Found under that name, it is quarantined rather than tried again:
/// the process died while examining it and nothing else.
struct WorkQueue {
    let directory: String
    /// `inbox/new`, where the claimed entries wait until their drops are dealt with.
    let inbox: DropDirectory

    /// One claimed drop.
    struct Item: Codable, Sendable, Equatable {
        /// Server-made, fixed length, time-ordered: names the copy and any quarantine file.
        let id: String
        /// The inbox name, escaped for display (`RawName.display`).
        let file: String
        let nameHex: String
        let device: UInt64
        let inode: UInt64
        let size: Int
        /// SHA-256 (hex) of the copy: its blob name once accepted.
        let sha256: String
        /// A bundle's envelopes (FORMAT.md §13), when the copy is one whose index parses.
        var members: [Member]? = nil
        /// Examined once already when the process died: examined again alone (not stored
        /// in the note, told by its name).
        var retry = false

        /// Envelopes this claim weighs in a batch: a bundle's members, or the one drop.
        var envelopeCount: Int { members?.count ?? 1 }

        /// What a refusal of this drop, or of its bundle's `member`, is named in quarantine/.
        func quarantineID(member: Int?) -> String { member.map { "\(id)-\($0)" } ?? id }

        enum CodingKeys: String, CodingKey {
            case id, file, size, sha256, device, inode, members
            case nameHex = "name_hex"
        }
    }

    /// One envelope of a bundle drop: where it lies in the copy, and its SHA-256 (hex), its
    /// blob name once accepted.
    struct Member: Codable, Sendable, Equatable {
        let offset: Int
        let length: Int
        let sha256: String

        var range: Range<Int> { offset..<offset + length }
    }

    /// What claiming one inbox entry came to.
    enum Claim {
        case claimed(Item)
        /// Not fit to be read: left for the caller to quarantine unread.
        case unfit(String)
        /// Gone between listing and looking.
        case vanished
    }

    func dropPath(_ id: String) -> String { "\(directory)/\(id).drop" }
    func notePath(_ id: String) -> String { "\(directory)/\(id).json" }
    func markPath(_ id: String) -> String { "\(directory)/\(id).examining" }
    func retryPath(_ id: String) -> String { "\(directory)/\(id).retry" }
    func retryingPath(_ id: String) -> String { "\(directory)/\(id).retrying" }
    /// Every name a claim's note may have.
    static let noteSuffixes = [".json", ".examining", ".retry", ".retrying"]
    func notePaths(_ id: String) -> [String] { Self.noteSuffixes.map { "\(directory)/\(id)\($0)" } }

    /// A fresh id: `d`, 16 hex digits of milliseconds, 8 random hex digits.
    static func newID(now: Date = Date()) -> String {
        "d" + UInt64(max(0, now.timeIntervalSince1970 * 1000)).bigEndianBytes.hexString + Random.bytes(count: 4).hexString
    }

    /// Copies `name` out of `inbox` into `work/ID.drop` (fsynced). Only a regular, singly
    /// linked, non-empty file within `maximumBytes` is read. Throws only for the server's own
    /// failures (a full disk): the entry is then left in the inbox.
    func claim(_ name: RawName, from inbox: DropDirectory, maximumBytes: Int) throws -> Claim {
        guard let info = inbox.status(name) else { return .vanished }
        if let unfit = Self.unfitness(info, maximumBytes: maximumBytes) { return .unfit(unfit) }
        let input = inbox.openForReading(name)
        guard input >= 0 else {
            return errno == ENOENT ? .vanished : .unfit("cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(input) }
        var opened = stat()
        guard fstat(input, &opened) == 0 else { throw IOFailure(call: "fstat", path: inbox.path, code: errno) }
        if let unfit = Self.unfitness(opened, maximumBytes: maximumBytes) { return .unfit(unfit) }
        let id = Self.newID()
        let path = dropPath(id)
        let output = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
        defer { close(output) }
        var hasher = SHA256()
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        do {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    unlink(path)
                    return code == EAGAIN ? .unfit("not a regular file") : .unfit("cannot be read: \(String(cString: strerror(code)))")
                }
                if n == 0 { break }
                total += n
                // A writer may still be appending: the copy is capped where the check was.
                guard total <= maximumBytes else {
                    unlink(path)
                    return .unfit("grew past the \(maximumBytes)-byte limit while it was read")
                }
                hasher.update(data: buffer[..<n])
                try AtomicFile.writeAll(Array(buffer[..<n]), to: output, path: path)
            }
            guard total > 0 else {
                unlink(path)
                return .unfit("an empty file")
            }
        } catch {
            unlink(path)
            throw error
        }
        return .claimed(Item(
            id: id, file: name.display, nameHex: name.hex, device: UInt64(opened.st_dev), inode: UInt64(opened.st_ino),
            size: total, sha256: hasher.finalize().hex, members: try Self.members(of: path, size: total)))
    }

    /// A bundle's members, each hashed, read from the server's copy; nil for any other drop,
    /// and for a bundle whose index does not parse (examining it says why).
    static func members(of path: String, size: Int) throws -> [Member]? {
        let file = try FileSource(path: path, followSymlinks: false)
        var source = file
        guard Bundle.isBundle(try source.read(upTo: Bundle.magic.count)) else { return nil }
        try source.rewind()
        guard let ranges = try? Bundle.members(of: &source, size: size) else { return nil }
        return try ranges.map { range in
            var window = FileWindow(file, range: range)
            return Member(offset: range.lowerBound, length: range.count, sha256: try window.sha256().hex)
        }
    }

    /// Why an inbox entry is not read at all, or nil when it may be.
    static func unfitness(_ info: stat, maximumBytes: Int) -> String? {
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFLNK: return "a symbolic link (never followed)"
        case S_IFDIR: return "a directory"
        default: return "not a regular file"
        }
        guard info.st_nlink == 1 else { return "a file with \(info.st_nlink) hard links" }
        guard info.st_size > 0 else { return "an empty file" }
        guard info.st_size <= maximumBytes else { return "larger than the \(maximumBytes)-byte limit (\(info.st_size) bytes)" }
        return nil
    }

    /// Writes the claims' notes. Nothing is fsynced and the inbox entries stay: until a drop
    /// is dealt with, its entry is what a crash falls back on.
    func commit(_ items: [Item]) throws {
        for item in items {
            let path = notePath(item.id)
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard fd >= 0 else { throw IOFailure(call: "open", path: path, code: errno) }
            defer { close(fd) }
            try AtomicFile.writeAll(Array(try Self.encoder.encode(item)), to: fd, path: path)
        }
    }

    private func removeInboxEntry(of item: Item) {
        guard let name = RawName(hex: item.nameHex), let info = inbox.status(name),
              UInt64(info.st_dev) == item.device, UInt64(info.st_ino) == item.inode
        else { return }
        inbox.remove(name)
    }

    /// Sorts the claims left in work/ (by a crash, or postponed) into drops still to examine
    /// (`retry` set on those to examine alone), drops the process died examining in a batch,
    /// and drops it died examining alone, and names the inbox entries they hold. A claim
    /// whose copy a crash lost or damaged (size or hash differ) is dropped, so its entry is
    /// claimed again; so is a note without its copy. Leftovers are removed.
    /// Claims in `inFlight` (a batch this process is still settling) are only named.
    /// `quarantined(id)` says whether a claim's copy is in quarantine.
    func recover(inFlight: [Item] = [], quarantined: (String) -> Bool = { _ in false }) throws
        -> (pending: [Item], interrupted: [Item], diedAlone: [Item], claimed: Set<RawName>) {
        var pending: [Item] = [], interrupted: [Item] = [], diedAlone: [Item] = []
        var claimed = Set(inFlight.compactMap { RawName(hex: $0.nameHex) })
        let settling = Set(inFlight.map(\.id))
        let files = Set(try FileManager.default.contentsOfDirectory(atPath: directory))
        for file in files where Self.isNote(file) {
            let id = Self.id(ofNote: file)
            if settling.contains(id) { continue }
            let item = FileManager.default.contents(atPath: "\(directory)/\(file)")
                .flatMap { try? JSONDecoder().decode(Item.self, from: $0) }.flatMap { $0.id == id ? $0 : nil }
            guard var item, let name = RawName(hex: item.nameHex),
                  files.contains("\(id).drop"), (try? Self.digest(of: dropPath(id), size: item.size)) == item.sha256
            else {
                // A copy moved to quarantine before a crash took the release: its entry goes
                // now, rather than being claimed and quarantined a second time.
                if let item, !files.contains("\(id).drop"), quarantined(id) {
                    removeInboxEntry(of: item)
                    try inbox.sync()
                }
                for path in notePaths(id) + [dropPath(id)] { unlink(path) }
                continue
            }
            claimed.insert(name)
            item.retry = file.hasSuffix(".retry") || file.hasSuffix(".retrying")
            if file.hasSuffix(".examining") {
                interrupted.append(item)
            } else if file.hasSuffix(".retrying") {
                diedAlone.append(item)
            } else {
                pending.append(item)
            }
        }
        for file in files where (!Self.noteNames(of: file).contains(where: files.contains) || file.hasPrefix("."))
            && !settling.contains(Self.id(ofNote: file)) {
            unlink("\(directory)/\(file)")
        }
        return (pending.sorted { $0.id < $1.id }, interrupted.sorted { $0.id < $1.id }, diedAlone.sorted { $0.id < $1.id }, claimed)
    }

    /// The hashes of the drops claimed and not yet dealt with: a blob of one of these may be
    /// stored ahead of its commit (fsck must not call it an orphan).
    static func claimedHashes(in directory: String) -> Set<String> {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(files.filter(isNote).flatMap { file -> [String] in
            guard let item = FileManager.default.contents(atPath: "\(directory)/\(file)")
                .flatMap({ try? JSONDecoder().decode(Item.self, from: $0) }) else { return [] }
            return [item.sha256] + (item.members ?? []).map(\.sha256)
        })
    }

    /// SHA-256 (hex) of a copy that must be `size` bytes long.
    static func digest(of path: String, size: Int) throws -> String {
        var source = try FileSource(path: path, followSymlinks: false)
        var hasher = SHA256()
        var total = 0
        while case let chunk = try source.read(upTo: 1 << 20), !chunk.isEmpty {
            total += chunk.count
            hasher.update(data: chunk)
        }
        guard total == size else { throw EnvelopeError.truncated }
        return hasher.finalize().hex
    }

    /// Forgets drops that were dealt with (ingested, answered, registered or quarantined):
    /// first their inbox entries go (each only if it is still the file that was copied) and
    /// `inbox/new` is fsynced, then their claims, so a claim is never gone while its entry stays.
    func release(_ items: [Item]) throws {
        guard !items.isEmpty else { return }
        for item in items { removeInboxEntry(of: item) }
        try inbox.sync()
        for item in items {
            for path in [dropPath(item.id)] + notePaths(item.id) { unlink(path) }
        }
    }

    /// A claim's note, under any of its names.
    static func isNote(_ file: String) -> Bool {
        !file.hasPrefix(".") && noteSuffixes.contains { file.hasSuffix($0) }
    }

    static func id(ofNote file: String) -> String {
        String(file[..<(file.firstIndex(of: ".") ?? file.endIndex)])
    }

    /// The names the note of a work file's claim may have.
    private static func noteNames(of file: String) -> [String] {
        let id = id(ofNote: file)
        return noteSuffixes.map { id + $0 }
    }

    /// Marks `item` as being examined, for the next start to see if this process dies: its
    /// note is renamed `ID.examining`, or for a retry `ID.retrying`.
    func markExamining(_ item: Item) {
        if item.retry { rename(retryPath(item.id), retryingPath(item.id)) } else { rename(notePath(item.id), markPath(item.id)) }
    }

    func unmark(_ item: Item) {
        if item.retry { rename(retryingPath(item.id), retryPath(item.id)) } else { rename(markPath(item.id), notePath(item.id)) }
    }

    /// A drop the process died examining in a batch, made a retry: examined again alone.
    func makeRetry(_ item: Item) -> Item {
        rename(markPath(item.id), retryPath(item.id))
        var retry = item
        retry.retry = true
        return retry
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()
}
