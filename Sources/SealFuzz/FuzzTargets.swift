import Foundation
import GcryptKit
@testable import SealEnvelope
@testable import SealPKI
@testable import DropProtocol
import SealToken

/// The parsers that read what others write, each as a function of raw bytes: the entry
/// points of `sealdrop-fuzz` (libFuzzer) and of the test that replays every crash fixture.
/// A target returns normally or throws; it must never trap, hang or take more than a second.
public enum FuzzTargets {
    public typealias Target = @Sendable ([UInt8]) throws -> Void

    /// The CA of fixtures/envelopes, for the targets that verify a chain: written once,
    /// under `lock`, before any target reads it.
    nonisolated(unsafe) static var authority: Certificate?
    private static let lock = NSLock()

    /// Loads what the targets need from `fixtures` (the CA of the envelope vectors), once:
    /// tests of several targets call it side by side.
    public static func prepare(fixtures: String) throws {
        try lock.withLock {
            guard authority == nil else { return }
            authority = try Certificate(pem: String(contentsOfFile: "\(fixtures)/envelopes/keys/ca.crt", encoding: .utf8))
        }
    }

    public static let all: [String: Target] = [
        // FORMAT.md §2: the clear header alone.
        "envelope-header": { bytes in
            var source = MemorySource(bytes)
            _ = try EnvelopeHeader.read(from: &source)
        },
        // §2, §3, §6, §7: header, chunk framing, trailer, then the sender and signature checks.
        "envelope": { bytes in
            var source = MemorySource(bytes)
            _ = try EnvelopeReader.layout(of: &source)
            guard let authority else { return }
            var again = MemorySource(bytes)
            let header = try EnvelopeHeader.read(from: &again)
            var whole = MemorySource(bytes)
            _ = try EnvelopeReader.verify(&whole, recipient: header.recipient, authority: authority)
        },
        // FORMAT.md §13: a bundle's index, then each member's header, as the server reads them.
        "bundle": { bytes in
            var source = MemorySource(bytes)
            for range in try Bundle.members(of: &source, size: bytes.count) {
                var member = MemorySource(Array(bytes[range]))
                _ = try? EnvelopeHeader.read(from: &member)
            }
        },
        // FORMAT.md §12: ASCII armour, decoded strictly.
        "armor": { bytes in
            var source = MemorySource(bytes)
            var sink = DiscardingSink()
            try Armor.decode(from: &source, to: &sink)
        },
        "x509": { bytes in
            let certificate = try Certificate(der: bytes)
            if let authority { try? certificate.verify(issuedBy: authority, at: Date(), for: .digitalSignature) }
            _ = certificate.subject.description
            _ = certificate.fingerprint.description
        },
        "x509-pem": { bytes in
            _ = try Certificate(pem: String(decoding: bytes, as: UTF8.self))
        },
        // PBES2 parameters (scrypt and PBKDF2 bounds included) and the RSA key inside.
        "pkcs8": { bytes in
            _ = try? EncryptedPrivateKey.parse(bytes)
            _ = try PrivateKeyInfo.decode(bytes)
        },
        // openssl's traditional encrypted RSA PRIVATE KEY (headers, DEK-Info, EVP_BytesToKey),
        // under the passphrase of the fixtures, so that valid seeds reach the key inside.
        "traditional-key": { bytes in
            _ = try EncryptedPrivateKey.decrypt(pem: String(decoding: bytes, as: UTF8.self),
                                                passphrase: SecretBytes(Array("sealdrop test vectors".utf8)))
        },
        "pkcs10": { bytes in
            let request = try CertificateRequest(der: bytes)
            _ = request.hasValidSelfSignature
            _ = try request.userName()
        },
        "pem": { bytes in
            _ = try PEM.document(String(decoding: bytes, as: UTF8.self),
                                 expecting: ["CERTIFICATE", "CERTIFICATE REQUEST", "ENCRYPTED PRIVATE KEY", "PUBLIC KEY"])
        },
        "notifications": { bytes in
            _ = try NotificationLog.records(in: Data(bytes), path: "fuzz", after: 0)
        },
        // A key reference (BASE.pkcs11, RFC 7512): what parses prints back as itself.
        "pkcs11-uri": { bytes in
            let uri = try PKCS11URI(parsing: String(decoding: bytes, as: UTF8.self))
            let again = try? PKCS11URI(parsing: uri.description)
            precondition(again == uri, "\(uri) does not read back as itself")
        },
        "fetch-answer": { bytes in
            let answer = try JSONDecoder().decode(FetchAnswer.self, from: Data(bytes))
            if let authority { _ = try answer.verifiedStatement(authority: authority) }
        },
    ]
}
