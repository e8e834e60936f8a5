import Foundation
import GcryptKit
import SealPKI
import Testing
@testable import SealEnvelope

/// Inputs that once trapped the Swift runtime or were accepted against FORMAT.md: each must
/// now be one clean error.
@Suite struct HostileInputTests {
    /// §6: a payload_length of 2^64-1 was held as a length (inspect trapped converting it).
    @Test(arguments: [UInt64.max, UInt64(Int64.max), 1 << 40, 0])
    func payloadLengthMustMatchTheChunks(claimed: UInt64) throws {
        var envelope = try sealInMemory(pattern(70_000))
        // Single-signature trailer: u64 payload_length, u8 type, u16 length, 256-byte signature.
        let offset = envelope.count - 256 - 2 - 1 - 8
        envelope.replaceSubrange(offset..<offset + 8, with: claimed.bigEndianBytes)
        var source = MemorySource(envelope)
        #expect(throws: EnvelopeError.self) { _ = try EnvelopeReader.layout(of: &source) }
        do {
            var again = MemorySource(envelope)
            _ = try EnvelopeReader.layout(of: &again)
        } catch let error as EnvelopeError {
            guard case .malformed = error else { Issue.record("expected malformed, got \(error)"); return }
        }
    }

    /// The true payload length still passes the check, for both suites and at chunk edges.
    @Test(arguments: [0, 1, 15, 16, 17, 65_536, 65_537, 131_072])
    func exactLengthsStillOpen(count: Int) throws {
        for suite in Suite.allCases {
            let payload = pattern(count)
            #expect(try openInMemory(sealInMemory(payload, suite: suite)) == payload)
        }
    }

    /// §5: a content key of any length but 32 is refused, with the error a failed unwrap gives,
    /// even when its commitment matches.
    @Test(arguments: [1, 16, 31, 33, 190])
    func contentKeysAreExactly32Bytes(length: Int) throws {
        var sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey), chunkSize: 1 << 16)
        sealer.unsafeContentKeyLength = length
        var source = MemorySource(pattern(1000))
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "k", kind: .message, mediaType: "application/octet-stream")
        #expect(throws: EnvelopeError.tampered) { _ = try openInMemory(sink.bytes) }
        var header = MemorySource(sink.bytes)
        let verified = try EnvelopeReader.verify(&header, recipient: World.server.fingerprint, authority: World.authority.certificate)
        #expect(throws: EnvelopeError.tampered) { _ = try EnvelopeReader.contentKey(of: verified.header, identity: World.server) }
    }

    @Test func a250ByteContentKeyIsRefused() throws {
        let big = RSAIdentity(key: try RSA.PrivateKey.generate(size: .bits3072))
        var sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: big.key.publicKey), chunkSize: 1 << 16)
        sealer.unsafeContentKeyLength = 250
        var source = MemorySource(pattern(10))
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "k", kind: .message, mediaType: "application/octet-stream")
        #expect(throws: EnvelopeError.tampered) { _ = try openInMemory(sink.bytes, identity: big) }
    }
}

/// FORMAT.md §2's name rules and §3's content rule: names become file names on a reader's
/// disk, and an image is an image.
@Suite struct NameRuleTests {
    @Test(arguments: [
        ".gitconfig", "-rf", ".", "..", "a/b", "a\\b", "x\u{7F}", "tab\there", "evil\u{202E}gnp.exe", "zero\u{200B}width.png",
        "caf\u{65}\u{301}.png", "soft\u{AD}hyphen.png", "line\u{2028}sep.png", "bom\u{FEFF}.png", "tag\u{E0041}.png", "",
        String(repeating: "a", count: 256),
    ])
    func refused(name: String) {
        #expect(throws: EnvelopeError.self) { try EnvelopeHeader.validate(name: name) }
    }

    @Test(arguments: ["caf\u{E9}.png", "bob's horse.png", "日本の写真.jpg", "a-b.c", "x.", String(repeating: "é", count: 127)])
    func accepted(name: String) throws {
        try EnvelopeHeader.validate(name: name)
    }

    /// A name given in NFD is sealed in NFC: one name, one byte form.
    @Test func sealerNormalisesToNFC() throws {
        let sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey))
        var source = try FileSource(path: fixturesDirectory.appendingPathComponent("images/coffee.gif").path)
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "caf\u{65}\u{301}.gif")
        var reader = MemorySource(sink.bytes)
        let header = try EnvelopeHeader.read(from: &reader)
        #expect(Array(header.name.utf8) == Array("caf\u{E9}.gif".utf8))
    }

    /// An image envelope whose content is not its declared type is refused before a byte of
    /// it is released, even with every signature and MAC right.
    @Test func contentMustMatchTheMediaType() throws {
        var sealer = EnvelopeSealer(signer: World.alice, recipient: RSARecipient(key: World.server.key.publicKey))
        sealer.unsafeMediaType = "image/png"
        var source = try FileSource(path: fixturesDirectory.appendingPathComponent("images/coffee.gif").path)
        var sink = MemorySink()
        _ = try sealer.seal(from: &source, to: &sink, name: "really-a-gif.png")
        #expect(throws: EnvelopeError.malformed("the content is not image/png")) { _ = try openInMemory(sink.bytes) }
    }

    @Test func outputPathsStayInsideTheFolder() throws {
        #expect(try OutputPath.inside("out", name: "a.png") == "out/a.png")
        #expect(try OutputPath.inside("out/", name: "a.png") == "out/a.png")
        for name in ["../a.png", ".bashrc", "-n", "a/../../b"] {
            #expect(throws: EnvelopeError.self) { _ = try OutputPath.inside("out", name: name) }
        }
        #expect(PathText.directory(of: "a") == "." && PathText.directory(of: "/a") == "/" && PathText.directory(of: "x/y/z") == "x/y")
        #expect(PathText.directory(of: "x/y/") == "x" && PathText.directory(of: "/") == "/" && PathText.directory(of: "é a/b") == "é a")
        #expect(PathText.lastComponent(of: "a") == "a" && PathText.lastComponent(of: "./a") == "a" && PathText.lastComponent(of: "x/y/") == "y")
        #expect(PathText.lastComponent(of: "/") == "/" && PathText.lastComponent(of: "/é a") == "é a")
        #expect(PathText.join("x", "y") == "x/y" && PathText.join("x/", "y") == "x/y" && PathText.join("/", "y") == "/y")
    }
}
