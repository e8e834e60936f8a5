import Foundation
import SealPKI

/// The server's directory (Maildir-style, see docs/SERVER.md): where each part lives, for
/// the server that keeps it and the clients that drop into it and collect from it.
public struct ServerRoot: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public var caCertificatePath: String { path + "/ca.crt" }
    public var caKeyPath: String { path + "/ca.key" }
    public var encryptionCertificatePath: String { path + "/encryption.crt" }
    public var encryptionKeyPath: String { path + "/encryption.key" }
    /// Signs delivery statements in fetch answers (a third key: the CA key only certifies).
    public var deliveryCertificatePath: String { path + "/delivery.crt" }
    public var deliveryKeyPath: String { path + "/delivery.key" }
    public var inboxTemporary: String { path + "/inbox/tmp" }
    public var inboxNew: String { path + "/inbox/new" }
    public var quarantine: String { path + "/quarantine" }
    /// Claimed drops being ingested: copies only the server can write (WorkQueue).
    public var work: String { path + "/work" }
    public var blobs: String { path + "/blobs" }
    public var outbox: String { path + "/outbox" }
    public var databasePath: String { path + "/sealdrop.sqlite" }
    public var notificationLogPath: String { path + "/notifications.jsonl" }
    /// Held by whoever is ingesting, so `ingest --once` and `watch` never take one file twice.
    public var lockPath: String { path + "/ingest.lock" }
    /// The signed head of the notification log (LogHead).
    public var notificationHeadPath: String { NotificationLog.headPath(for: notificationLogPath) }

    public func outbox(for name: String) -> String { outbox + "/" + name }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case alreadyInitialized(String)
        case notInitialized(String)
        case noTLSCertificate(String)

        public var description: String {
            switch self {
            case .alreadyInitialized(let path): "\(path) is already a sealdrop server root"
            case .notInitialized(let path): "\(path) is not a sealdrop server root (no ca.crt)"
            case .noTLSCertificate(let path):
                "\(path) has no TLS certificate (tls.crt); make one with `sealdrop server tls-cert \(path) --hostname NAME`"
            }
        }
    }

    /// The TLS certificate's own key and certificate (`server serve`).
    public var tlsCertificatePath: String { path + "/tls.crt" }
    public var tlsKeyPath: String { path + "/tls.key" }

    /// The names a TLS certificate is issued for when none are given: this machine over loopback.
    public static let loopbackNames: [AltName] = ["localhost", "127.0.0.1", "::1"].compactMap(AltName.init)

    /// The CA certificate, checked to be a self-signed CA.
    public func authorityCertificate() throws -> Certificate {
        guard FileManager.default.fileExists(atPath: caCertificatePath) else { throw Failure.notInitialized(path) }
        return try Self.authority(pem: KeyFile.readText(caCertificatePath), from: caCertificatePath)
    }

    /// A server's CA certificate however it came (`from` names where, for the error): it
    /// must be a self-signed CA.
    public static func authority(pem: String, from source: String) throws -> Certificate {
        let certificate = try Certificate(pem: pem)
        guard certificate.extensions.isCA == true, certificate.isSelfSigned else {
            throw PKIError.certificateRejected("\(source) is not a self-signed CA certificate")
        }
        return certificate
    }
}
