import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import SealToken
import DropProtocol

/// The client's profile in `$SEALDROP_HOME` (default `~/.sealdrop`): the server it uses,
/// the user's key pair and certificate, and the server's CA certificate pinned at
/// registration.
///
///     profile.json         {"server" (a directory or https://HOST:PORT), "user", "ca_fingerprint"}
///     USER.key USER.pub    the key pair (key encrypted, 0600); USER.pkcs11 in place of USER.key
///                          when the key is on a token (its PKCS#11 URI)
///     USER.csr USER.crt    the request and the issued certificate
///     ca.crt               the pinned CA certificate
///     encryption.crt       the server's encryption certificate (checked against ca.crt)
///     tail.cursor          the last notification seq shown by `tail`
///     spool/               drops and downloads in transit to and from a gateway, and the
///                          envelopes of a bundle before they are sent
public struct Profile: Sendable {
    public let home: String
    public let settings: Settings

    public struct Settings: Codable, Sendable {
        public let server: String
        public let user: String
        public let caFingerprint: String

        enum CodingKeys: String, CodingKey {
            case server, user
            case caFingerprint = "ca_fingerprint"
        }
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case noProfile(String)
        case notRegistered(String)
        case pinMismatch(expected: String, found: String)

        public var description: String {
            switch self {
            case .noProfile(let home): "no sealdrop profile in \(home)"
            case .notRegistered(let user): "\(user) has no certificate yet: registration did not finish"
            case .pinMismatch(let expected, let found):
                "the server's CA certificate changed: pinned \(expected), now \(found) (possible man in the middle)"
            }
        }
    }

    /// `$SEALDROP_HOME`, else `~/.sealdrop`.
    public static func defaultHome(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        environment["SEALDROP_HOME"] ?? (NSHomeDirectory() + "/.sealdrop")
    }

    public init(home: String, settings: Settings) {
        self.home = home
        self.settings = settings
    }

    /// Loads the profile in `home`.
    public static func load(home: String) throws -> Profile {
        guard let data = FileManager.default.contents(atPath: home + "/profile.json") else { throw Failure.noProfile(home) }
        return Profile(home: home, settings: try JSONDecoder().decode(Settings.self, from: data))
    }

    /// Whether the server is an HTTPS gateway (else a directory).
    public var isRemote: Bool { HTTPSTransport.isURL(settings.server) }

    /// The way to the server: TLS pinned to the profile's CA; with `key`, the user's
    /// certificate as the client certificate (the gateway needs it for all but registration).
    public func transport(key: (any RSA.PrivateOperations)? = nil) throws -> any ServerTransport {
        try makeTransport(server: settings.server, authority: pinnedAuthority(), identity: key.map { (try certificate(), $0) },
                          spool: spool)
    }

    /// Drops and downloads in transit (made 0700 by whoever first needs it).
    public var spool: String { "\(home)/spool" }

    /// Removes what killed processes left in the spool (the envelopes of a bundle not sent
    /// yet, a download): each file is named by its writer's pid (Inbox.uniqueName), and one
    /// whose writer is gone is nobody's.
    public func removeAbandonedSpoolFiles() {
        for file in (try? FileManager.default.contentsOfDirectory(atPath: spool)) ?? [] {
            guard let pid = Inbox.writer(of: file), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink("\(spool)/\(file)")
        }
    }
    public var keyPath: String { "\(home)/\(settings.user).key" }
    public var requestPath: String { "\(home)/\(settings.user).csr" }
    public var certificatePath: String { "\(home)/\(settings.user).crt" }
    public var caPath: String { "\(home)/ca.crt" }
    public var encryptionPath: String { "\(home)/encryption.crt" }
    public var deliveryPath: String { "\(home)/delivery.crt" }
    public var cursorPath: String { "\(home)/tail.cursor" }

    /// The pinned CA, checked against its recorded fingerprint and against the server's
    /// current ca.crt: a change is refused as a possible man in the middle.
    public func pinnedAuthority() throws -> Certificate {
        let pinned = try Certificate(pem: KeyFile.readText(caPath))
        guard pinned.fingerprint.description == settings.caFingerprint else {
            throw Failure.pinMismatch(expected: settings.caFingerprint, found: pinned.fingerprint.description)
        }
        // A directory's ca.crt is compared as well; a gateway's TLS handshake checks it.
        if !isRemote, let current = try? Certificate(pem: KeyFile.readText(ServerRoot(path: settings.server).caCertificatePath)),
           current != pinned {
            throw Failure.pinMismatch(expected: settings.caFingerprint, found: current.fingerprint.description)
        }
        return pinned
    }

    /// The user's certificate, checked against the pinned CA.
    public func certificate() throws -> Certificate {
        guard FileManager.default.fileExists(atPath: certificatePath) else { throw Failure.notRegistered(settings.user) }
        let certificate = try Certificate(pem: KeyFile.readText(certificatePath))
        try certificate.verify(issuedBy: pinnedAuthority(), role: .user)
        guard certificate.subject.commonName == settings.user else {
            throw PKIError.certificateRejected("\(certificatePath) is issued to \(certificate.subject), not \(settings.user)")
        }
        return certificate
    }

    /// The server's encryption certificate, checked against the pinned CA.
    public func encryptionCertificate() throws -> Certificate {
        let certificate = try Certificate(pem: KeyFile.readText(encryptionPath))
        try certificate.verify(issuedBy: pinnedAuthority(), role: .encryption)
        return certificate
    }

    /// The server's delivery certificate pinned at registration (nil for a profile made
    /// before delivery certificates were pinned), checked against the pinned CA.
    public func pinnedDeliveryCertificate() throws -> Certificate? {
        guard FileManager.default.fileExists(atPath: deliveryPath) else { return nil }
        let certificate = try Certificate(pem: KeyFile.readText(deliveryPath))
        try certificate.verify(issuedBy: pinnedAuthority(), role: .delivery)
        return certificate
    }

    /// Where the user's key is: `USER.key`, or the token `USER.pkcs11` names.
    public func storedKey() throws -> StoredKey {
        try StoredKey.locate(keyPath)
    }

    /// The user's key, unlocked with `secret`: the key file's passphrase, or the token's PIN.
    public func key(secret: SecretBytes) throws -> any RSA.PrivateOperations {
        try storedKey().unlock(secret)
    }

    /// A signer with the user's key and certificate.
    public func signer(secret: SecretBytes) throws -> RSASigner {
        try RSASigner(key: key(secret: secret), certificate: certificate())
    }

    /// The signed log head this profile verified last (`LogHead`): a later log must extend it.
    public var logHeadPath: String { "\(home)/log-head.json" }

    public func verifiedLogHead() throws -> LogHead.Position {
        guard FileManager.default.fileExists(atPath: logHeadPath) else { return .start }
        return try JSONDecoder().decode(LogHead.Position.self, from: Data(KeyFile.readBytes(logHeadPath, limit: 4096, followSymlinks: false)))
    }

    public func saveVerifiedLogHead(_ head: LogHead.Position) throws {
        guard try head != verifiedLogHead() else { return }
        try AtomicFile.write(Array(try JSONEncoder().encode(head)), to: logHeadPath, mode: 0o600, replace: true)
    }

    /// Where the last verified line ends in the server's log file (directory servers): the
    /// next read starts there instead of at the beginning. Only a hint: what is read from
    /// it is verified against the head as any read is.
    public struct LogMark: Codable, Sendable, Equatable {
        public let seq: Int
        public let offset: Int

        public init(seq: Int, offset: Int) {
            self.seq = seq
            self.offset = offset
        }
    }

    var logMarkPath: String { "\(home)/log-marks.json" }

    /// The marks kept, one per reader position (tail's cursor, list's index): a few.
    static let markCount = 8

    public func logMarks() -> [LogMark] {
        (try? KeyFile.readBytes(logMarkPath, limit: 4096, followSymlinks: false)).flatMap { try? JSONDecoder().decode([LogMark].self, from: Data($0)) } ?? []
    }

    /// The mark at line `seq`, if one was kept.
    public func logMark(at seq: Int) -> LogMark? { logMarks().first { $0.seq == seq } }

    public func saveLogMark(_ mark: LogMark) throws {
        let marks = logMarks()
        guard !marks.contains(mark) else { return }
        let kept = Array(([mark] + marks.filter { $0.seq != mark.seq }).sorted { $0.seq > $1.seq }.prefix(Self.markCount))
        try AtomicFile.write(Array(try JSONEncoder().encode(kept)), to: logMarkPath, mode: 0o600, replace: true)
    }

    public func cursor() -> Int {
        (FileManager.default.contents(atPath: cursorPath).flatMap { Int(String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) }) ?? 0
    }

    public func saveCursor(_ seq: Int) throws {
        try AtomicFile.write("\(seq)\n", to: cursorPath, mode: 0o600, replace: true)
    }
}
