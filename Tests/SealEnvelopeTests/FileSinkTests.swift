import Foundation
import Testing
@testable import SealEnvelope

/// Outputs appear whole or not at all; partial files of a killed writer are cleared, a live
/// writer's never.
struct FileSinkTests {
    func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sink-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func nothingIsNamedUntilCommitted() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sink = try FileSink(path: dir + "/out")
        try sink.write([1, 2, 3])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty)
        try sink.commit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out"])
        let dropped = try FileSink(path: dir + "/other")
        try dropped.write([4])
        dropped.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out"])
    }

    /// `reserve` allocates the file's blocks before a byte is written (so that a full disk
    /// is told then); armour, whose length differs, is not reserved.
    @Test func reserveAllocatesTheBlocks() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func blocks(_ sink: FileSink) throws -> Int {
            try sink.commit(durable: false)
            var info = stat()
            #expect(stat(sink.path, &info) == 0)
            return Int(info.st_blocks) * 512
        }
        let plain = try FileSink(path: dir + "/plain")
        try plain.reserve(4 << 20)
        #expect(try blocks(plain) >= 4 << 20)
        let armored = try FileSink(path: dir + "/armored", armor: true)
        try armored.reserve(4 << 20)
        #expect(try blocks(armored) < 1 << 20)
    }

    /// The room `open` makes in the output's folder while it verifies (`OutputRoom`) becomes
    /// the output: a reserve within it asks for nothing more, and the file is cut back at
    /// commit to what was written. (A sink of its own, reserving 3 MiB, would be 3 MiB long.)
    @Test func aRoomInTheFolderBecomesTheFile() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Under 4 MiB no room is made early: its fallocate would take less than the thread.
        #expect(OutputRoom(directory: dir, byteCount: (4 << 20) - 1) == nil)
        let room = try #require(OutputRoom(directory: dir + "/", byteCount: 4 << 20))
        let sink = try FileSink(path: dir + "/photo.png", room: room)
        try sink.reserve(3 << 20)
        try sink.write([UInt8](repeating: 7, count: 1000))
        try sink.commit(durable: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["photo.png"])
        #expect(FileManager.default.contents(atPath: dir + "/photo.png") == Data(repeating: 7, count: 1000))
    }

    @Test func abandonedPartialFilesGoAndHeldOnesStay() throws {
        let dir = try folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let abandoned = dir + "/.sd-0badf00d.partial", held = dir + "/.sd-feedc0de.partial"
        for path in [abandoned, held, dir + "/.sd-0badf00d.partial.keep", dir + "/photo.png"] {
            FileManager.default.createFile(atPath: path, contents: Data([1]))
        }
        // A writer that is still alive holds its lock (one open file description, as FileSink does).
        let fd = open(held, O_RDWR)
        defer { close(fd) }
        #expect(flock(fd, LOCK_EX) == 0)
        #expect(FileSink.removeAbandoned(in: dir) == [abandoned])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
            == [".sd-0badf00d.partial.keep", ".sd-feedc0de.partial", "photo.png"])
        flock(fd, LOCK_UN)
        #expect(FileSink.removeAbandoned(in: dir) == [held])
    }
}
