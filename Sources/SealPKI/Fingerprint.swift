import Foundation
import GcryptKit

/// A SHA-256 fingerprint, printed one way everywhere: `SHA256:` then the digest as
/// uppercase hex pairs joined by colons, the same pairs `openssl x509 -noout -fingerprint
/// -sha256` prints, so users can compare the two by eye.
public struct Fingerprint: Hashable, Sendable, CustomStringConvertible {
    public let digest: SHA256Digest

    public init(of der: [UInt8]) {
        digest = SHA256.hash(data: der)
    }

    public init(digest: SHA256Digest) {
        self.digest = digest
    }

    /// Parses the printed form; also accepts bare hex, any case, with or without colons,
    /// and with or without the `SHA256:` prefix (people paste what they were shown).
    public init?(parsing text: String) {
        var body = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        for prefix in ["SHA256:", "sha256:", "SHA256 Fingerprint=", "sha256 Fingerprint="] where body.hasPrefix(prefix) {
            body = body.dropFirst(prefix.count)
        }
        guard let bytes = [UInt8](hexString: body.replacingOccurrences(of: ":", with: "")),
              let digest = try? SHA256Digest(bytes: bytes)
        else { return nil }
        self.digest = digest
    }

    public var description: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var text = Array("SHA256:".utf8)
        for (index, byte) in digest.bytes.enumerated() {
            if index > 0 { text.append(UInt8(ascii: ":")) }
            text += [digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]]
        }
        return String(decoding: text, as: UTF8.self)
    }
}
