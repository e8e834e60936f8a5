import Foundation
import Testing
@testable import SealEnvelope

@Suite struct MediaTypeTests {
    @Test(arguments: [
        ("camera.png", "image/png", 512, 512), ("horse.png", "image/png", 400, 328),
        ("camera.tiff", "image/tiff", 512, 512), ("chelsea.webp", "image/webp", 451, 300),
        ("coffee.gif", "image/gif", 300, 200), ("hubble_deep_field.jpg", "image/jpeg", 1000, 872),
        ("rocket.jpg", "image/jpeg", 640, 427), ("rocket.heic", "image/heic", 640, 427),
    ] as [(String, String, UInt32, UInt32)])
    func detectsRealImages(file: String, type: String, width: UInt32, height: UInt32) throws {
        let data = try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent("images/\(file)")))
        // The sealer detects from its first chunk: 1 MiB by default.
        let media = MediaType.detect(Array(data.prefix(1 << 20)))
        #expect(media == MediaType(name: type, width: width, height: height))
    }

    @Test func refusesOtherBytes() {
        #expect(MediaType.detect(Array("hello world, this is text".utf8)) == nil)
        #expect(MediaType.detect([]) == nil)
        #expect(MediaType.detect([0xFF, 0xD8]) == nil)
        // A truncated header still names the type, with unknown dimensions.
        #expect(MediaType.detect([0xFF, 0xD8, 0xFF, 0xE0]) == MediaType(name: "image/jpeg", width: 0, height: 0))
    }

    @Test func imagesAreSealedWithTheirType() throws {
        let data = try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent("images/coffee.gif")))
        let envelope = try sealInMemory(data, kind: .image, name: "coffee.gif")
        var source = MemorySource(envelope)
        let header = try EnvelopeReader.layout(of: &source).header
        #expect(header.mediaType == "image/gif" && header.width == 300 && header.height == 200)
        #expect(try openInMemory(envelope) == data)
        #expect(throws: EnvelopeError.unrecognisedMedia) { try sealInMemory(Array("text".utf8), kind: .image) }
    }

    @Test(arguments: ["", ".", "..", "a/b", "a\\b", "tab\there", String(repeating: "x", count: 256)])
    func badNamesAreRefused(name: String) {
        #expect(throws: EnvelopeError.self) { try sealInMemory([1, 2, 3], name: name) }
    }
}

/// Hostile headers: every prefix of each real image, and random bytes behind each magic,
/// must be handled without a crash.
@Suite struct MediaTypeRobustnessTests {
    @Test func prefixesAndNoiseNeverCrash() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixturesDirectory.appendingPathComponent("images").path)
        for file in files where !file.hasSuffix(".md") {
            let data = try [UInt8](Data(contentsOf: fixturesDirectory.appendingPathComponent("images/\(file)")))
            for length in stride(from: 0, through: min(data.count, 4096), by: 3) {
                _ = MediaType.detect(Array(data.prefix(length)))
            }
        }
        let magics: [[UInt8]] = [[0xFF, 0xD8, 0xFF], [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], Array("GIF89a".utf8),
                                 Array("RIFF0000WEBPVP8X".utf8), [0x49, 0x49, 0x2A, 0x00], [0x4D, 0x4D, 0x00, 0x2A],
                                 [0, 0, 0, 0x18] + Array("ftypheic".utf8)]
        for magic in magics {
            for seed in 0..<200 {
                _ = MediaType.detect(magic + pattern(seed * 7, seed: UInt8(seed)))
            }
        }
    }
}
