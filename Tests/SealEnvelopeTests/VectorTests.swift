import Foundation
import GcryptKit
import SealPKI
import Testing
@testable import SealEnvelope

/// fixtures/envelopes: each file with its expected outcome, run through both reading paths
/// (in memory, and the file API that `sealdrop open` uses).
@Suite struct VectorTests {
    struct Manifest: Decodable {
        struct Vector: Decodable {
            let file: String
            let expect: String
            let note: String
            let sha256: String?
            let payload_bytes: Int?
        }
        let verify_at: Double
        let vectors: [Vector]
    }

    static let directory = fixturesDirectory.appendingPathComponent("envelopes")
    static let manifest = try! JSONDecoder().decode(Manifest.self, from: Data(contentsOf: directory.appendingPathComponent("vectors.json")))
    static let identity = RSAIdentity(key: try! KeyFile.readPrivateKey(
        at: directory.appendingPathComponent("keys/bob.key").path, passphrase: SecretBytes(Array("sealdrop test vectors".utf8))))
    static let authority = try! Certificate(pem: KeyFile.readText(directory.appendingPathComponent("keys/ca.crt").path))

    /// The outcome name of an error, as vectors.json spells it.
    static func outcome(_ error: Error) -> String {
        switch error as? EnvelopeError {
        case .tampered: "tampered"
        case .truncated: "truncated"
        case .trailingData: "trailing_data"
        case .notAnEnvelope: "not_an_envelope"
        case .unsupportedVersion: "unsupported_version"
        case .malformed: "malformed"
        case .untrustedSender: "untrusted_sender"
        case .notForThisKey: "not_for_this_key"
        case .unrecognisedMedia: "unrecognised_media"
        case .unusableName: "unusable_name"
        case nil: "other: \(error)"
        }
    }

    @Test(arguments: manifest.vectors.map(\.file))
    func vector(file: String) throws {
        let vector = Self.manifest.vectors.first { $0.file == file }!
        let path = Self.directory.appendingPathComponent(file).path
        let now = Date(timeIntervalSince1970: Self.manifest.verify_at)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))

        // Path 1: in memory.
        let inMemory: Result<[UInt8], Error> = Result {
            var source = MemorySource(bytes)
            let verified = try EnvelopeReader.verify(&source, recipient: Self.identity.fingerprint, authority: Self.authority, now: now)
            var again = MemorySource(bytes)
            var sink = MemorySink()
            try EnvelopeReader.decrypt(verified, from: &again, to: &sink, identity: Self.identity)
            return sink.bytes
        }
        // Path 2: files, as `sealdrop open` does; the output must exist only on success.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("vector-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let onDisk: Result<[UInt8], Error> = Result {
            _ = try EnvelopeFiles.open(path, to: output, identity: Self.identity, authority: Self.authority, now: now)
            return try [UInt8](Data(contentsOf: URL(fileURLWithPath: output)))
        }

        for (name, result) in [("memory", inMemory), ("file", onDisk)] {
            switch result {
            case .success(let plaintext):
                #expect(vector.expect == "success", "\(file) [\(name)]: opened, expected \(vector.expect) (\(vector.note))")
                #expect(SHA256.hash(data: plaintext).hex == vector.sha256, "\(file) [\(name)]")
                #expect(plaintext.count == vector.payload_bytes, "\(file) [\(name)]")
            case .failure(let error):
                #expect(Self.outcome(error) == vector.expect, "\(file) [\(name)]: \(error) (\(vector.note))")
                if name == "file" { #expect(!FileManager.default.fileExists(atPath: output), "\(file): output left behind") }
            }
        }
    }

    @Test func everyOutcomeIsCovered() {
        let outcomes = Set(Self.manifest.vectors.map(\.expect))
        #expect(outcomes.isSuperset(of: ["success", "tampered", "truncated", "trailing_data", "not_an_envelope",
                                         "unsupported_version", "malformed", "untrusted_sender", "not_for_this_key"]))
    }
}
