import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import DropProtocol

/// `sealdrop register`: pins the server's CA, creates the key pair and request in the
/// profile, drops the request into the inbox, and waits for the answer in the outbox.
public struct Registration: Sendable {
    public let home: String
    public let server: ServerRoot
    public let user: UserName

    public init(home: String, server: ServerRoot, user: UserName) {
        self.home = home
        self.server = server
        self.user = user
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case alreadyRegistered(String)
        case refused(String)
        case renewalRefused(String)
        case timedOut(Double)

        public var description: String {
            switch self {
            case .alreadyRegistered(let home): "\(home) already holds a registered profile"
            case .refused(let reason): "the server refused the registration: \(reason)"
            case .renewalRefused(let reason): "the server refused to renew the certificate: \(reason)"
            case .timedOut(let seconds): "no answer from the server within \(Int(seconds)) s"
            }
        }
    }

    /// The server's CA certificate as found now, before anything is pinned.
    public func serverAuthority() throws -> Certificate {
        try server.authorityCertificate()
    }

    /// Writes the profile (key, request, pinned CA, encryption certificate) and drops the
    /// request. `authority` is the CA the user accepted (fingerprint compared).
    public func prepare(authority: Certificate, passphrase: SecretBytes, keySize: RSA.KeySize) throws -> RSA.PrivateKey {
        if let existing = try? Profile.load(home: home), FileManager.default.fileExists(atPath: existing.certificatePath) {
            throw Failure.alreadyRegistered(home)
        }
        // The server's roles are pinned with its CA: a user certificate put in their place
        // while someone registers is refused here and forever after.
        let encryption = try Certificate(pem: KeyFile.readText(server.encryptionCertificatePath))
        try encryption.verify(issuedBy: authority, role: .encryption)
        let delivery = try Certificate(pem: KeyFile.readText(server.deliveryCertificatePath))
        try delivery.verify(issuedBy: authority, role: .delivery)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let profile = Profile(home: home, settings: .init(
            server: URL(fileURLWithPath: server.path).standardizedFileURL.path, user: user.value,
            caFingerprint: authority.fingerprint.description))
        let key = try RSA.PrivateKey.generate(size: keySize)
        let request = try CertificateRequest(userName: user, key: key)
        try KeyFile.write(key, base: "\(home)/\(user.value)", passphrase: passphrase, replace: true)
        try AtomicFile.write(request.pem, to: profile.requestPath, replace: true)
        try AtomicFile.write(authority.pem, to: profile.caPath, replace: true)
        try AtomicFile.write(encryption.pem, to: profile.encryptionPath, replace: true)
        try AtomicFile.write(delivery.pem, to: profile.deliveryPath, replace: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(Array(try encoder.encode(profile.settings)), to: home + "/profile.json", replace: true)
        _ = try Inbox.drop(Array(request.pem.utf8), into: server, suffix: ".csr")
        return key
    }

    /// Waits for the server's answer to the request for `key`: the certificate (checked
    /// against the pinned CA, the name and the key, then saved) or the refusal.
    /// Renews this profile's certificate before it expires, for the same key: a renewal
    /// request signed with the current certificate, then the new certificate, checked and
    /// saved as at registration. An expired or revoked certificate cannot renew.
    public func renew(passphrase: SecretBytes, timeout: Double) throws -> Certificate {
        let profile = try Profile.load(home: home)
        let signer = try profile.signer(passphrase: passphrase)
        let sealer = EnvelopeSealer(signer: signer, recipient: RSARecipient(key: try profile.encryptionCertificate().publicKey))
        let inboxName = Inbox.uniqueName(suffix: ".seal")
        var source = MemorySource([UInt8](try JSONEncoder().encode(RenewalRequest(user: user.value))))
        var sink = try FileSink(path: "\(server.inboxTemporary)/\(inboxName)")
        let summary = try sealer.seal(from: &source, to: &sink, name: RenewalRequest.envelopeName, kind: .message,
                                      mediaType: RenewalRequest.mediaType)
        try sink.commit(mode: 0o644, durable: true)
        try Inbox.publish(inboxName, in: server)
        let key = try KeyFile.readPrivateKey(at: profile.keyPath, passphrase: passphrase)
        do {
            return try awaitCertificate(for: key, timeout: timeout,
                                        refusal: "\(server.outbox(for: user.value))/rejected-\(summary.envelopeID.hexString).json")
        } catch Failure.refused(let reason) {
            throw Failure.renewalRefused(reason)
        }
    }

    public func awaitCertificate(for key: RSA.PrivateKey, timeout: Double, refusal: String? = nil) throws -> Certificate {
        let profile = try Profile.load(home: home)
        let answer = Outbox.answerName(for: key.publicKey)
        let outbox = server.outbox(for: user.value)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let certificatePath = "\(outbox)/certificate-\(answer).crt"
            if FileManager.default.fileExists(atPath: certificatePath) {
                let certificate = try Certificate(pem: String(
                    decoding: KeyFile.readBytes(certificatePath, limit: 64 << 10, followSymlinks: false), as: UTF8.self))
                try certificate.verify(issuedBy: profile.pinnedAuthority(), role: .user)
                guard certificate.subject.commonName == user.value else {
                    throw PKIError.certificateRejected("the server's certificate is issued to \(certificate.subject), not \(user.value)")
                }
                guard certificate.publicKey == key.publicKey else {
                    throw PKIError.certificateRejected("the server's certificate is for another key")
                }
                try AtomicFile.write(certificate.pem, to: profile.certificatePath, replace: true)
                unlink(certificatePath)
                return certificate
            }
            for path in [refusal, "\(outbox)/registration-\(answer).rejected.json"].compactMap({ $0 })
            where FileManager.default.fileExists(atPath: path) {
                let rejectedPath = path
                let data = Data(try KeyFile.readBytes(rejectedPath, limit: 64 << 10, followSymlinks: false))
                let reason = LogText.escaped((try? JSONDecoder().decode([String: String].self, from: data))?["reason"] ?? "no reason given")
                unlink(rejectedPath)
                throw Failure.refused(reason)
            }
            guard Date() < deadline else { throw Failure.timedOut(timeout) }
            usleep(100_000)
        }
    }
}
