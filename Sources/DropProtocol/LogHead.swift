import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// The signed head of `notifications.jsonl` (docs/SERVER.md, "Notifications"): the number and
/// hash of its last line, signed by the delivery key after every commit. Each line carries
/// the hash of the line before it, so the head commits to the whole log: a client that
/// verified a head once refuses any later log that does not extend it.
public struct LogHead: Codable, Sendable, Equatable {
    /// A point in the log: line `seq` hashes to `hash` (hex SHA-256 of its bytes).
    public struct Position: Codable, Sendable, Equatable {
        public let seq: Int
        public let hash: String

        public init(seq: Int, hash: String) {
            self.seq = seq
            self.hash = hash
        }

        /// Before the first line.
        public static let start = Position(seq: 0, hash: String(repeating: "0", count: 64))
    }

    public let seq: Int
    public let hash: String
    public let time: String
    public let deliveryCertificate: Data
    public let signature: Data

    enum CodingKeys: String, CodingKey {
        case seq, hash, time, signature
        case deliveryCertificate = "delivery_certificate"
    }

    public var position: Position { Position(seq: seq, hash: hash) }

    /// The largest head file a client reads.
    package static let maximumBytes = 16 << 10

    /// The head file at `path`, read through one descriptor, never following a link, bounded.
    package static func read(at path: String) throws -> LogHead {
        try JSONDecoder().decode(LogHead.self, from: Data(KeyFile.readBytes(path, limit: maximumBytes, followSymlinks: false)))
    }

    package static func signedDigest(seq: Int, hash: String, time: String, certificate: Data) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(data: Array("sealdrop-v1 log head".utf8))
        hasher.update(data: UInt64(max(0, seq)).bigEndianBytes)
        for part in [Data(hash.utf8), Data(time.utf8), certificate] {
            hasher.update(data: UInt32(part.count).bigEndianBytes)
            hasher.update(data: part)
        }
        return hasher.finalize()
    }

    package static func make(_ position: Position, signer: RSASigner, now: Date = Date()) throws -> LogHead {
        let time = LogTime.format(now)
        let certificate = Data(signer.certificate.der)
        let signature = try signer.sign(signedDigest(seq: position.seq, hash: position.hash, time: time, certificate: certificate))
        return LogHead(seq: position.seq, hash: position.hash, time: time, deliveryCertificate: certificate, signature: Data(signature))
    }

    /// Checks the delivery certificate against `authority` and the signature.
    package func verify(authority: Certificate, pinned: Certificate? = nil) throws {
        let certificate = try Certificate(der: [UInt8](deliveryCertificate))
        try certificate.verify(issuedBy: authority, role: .delivery)
        if let pinned, pinned != certificate { throw PKIError.certificateRejected("signed by another delivery key than the one pinned") }
        guard seq >= 0, hash.utf8.count == 64, hash.utf8.allSatisfy(\.isLowercaseHex),
              certificate.publicKey.isValidPSSSignature(
                [UInt8](signature), for: Self.signedDigest(seq: seq, hash: hash, time: time, certificate: deliveryCertificate))
        else { throw EnvelopeError.tampered }
    }

    /// Hex SHA-256 of one line's bytes (without its newline).
    package static func hash(ofLine line: some Collection<UInt8>) -> String {
        SHA256.hash(data: Array(line)).hex
    }
}
