import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import SealToken
import DropProtocol

/// `sealdrop register`: pins the server's CA, creates the key pair and request in the
/// profile, sends the request (a drop into the inbox, or the gateway), and waits for the answer.
public struct Registration: Sendable {
    public let home: String
    /// The server, as the user named it (a directory or an https:// URL).
    public let server: String
    public let user: UserName

    public init(home: String, server: String, user: UserName) {
        self.home = home
        // A URL stays as given (an http:// one is refused when used); a directory is made absolute.
        self.server = server.contains("://") ? server : URL(fileURLWithPath: server).standardizedFileURL.path
        self.user = user
    }

    var spool: String { home + "/spool" }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case alreadyRegistered(String)
        case otherRegistration(home: String, user: String, server: String)
        case refused(String)
        case renewalRefused(String)
        case timedOut(Double)

        public var description: String {
            switch self {
            case .alreadyRegistered(let home): "\(home) already holds a registered profile"
            case .otherRegistration(let home, let user, let server):
                "\(home) holds an unfinished registration of \"\(user)\" at \(server); run register with those to finish it"
            case .refused(let reason): "the server refused the registration: \(reason)"
            case .renewalRefused(let reason): "the server refused to renew the certificate: \(reason)"
            case .timedOut(let seconds): "no answer from the server within \(Int(seconds)) s"
            }
        }
    }

    /// The server's CA certificate as found now, before anything is pinned (over HTTPS, on a
    /// connection that trusts nothing yet: the user compares the fingerprint).
    public func serverAuthority() throws -> Certificate {
        let transport = try makeTransport(server: server, authority: nil, spool: spool)
        return try ServerRoot.authority(pem: transport.publishedCertificate("ca.crt"), from: "\(server)/ca.crt")
    }

    /// What `home` holds already.
    public enum Existing: Equatable {
        /// Nothing: a new registration.
        case none
        /// A profile whose certificate never came (register timed out, or was stopped):
        /// register resumes it, keeping its key.
        case unfinished
        case registered
    }

    /// What `home` holds: a finished profile is refused, an unfinished one for another user
    /// or server too (naming them).
    public func existing() throws -> Existing {
        guard let profile = try? Profile.load(home: home) else { return .none }
        if FileManager.default.fileExists(atPath: profile.certificatePath) { return .registered }
        guard profile.settings.user == user.value, profile.settings.server == server else {
            throw Failure.otherRegistration(home: home, user: profile.settings.user, server: profile.settings.server)
        }
        return .unfinished
    }

    /// Finishes an unfinished registration: the key already in the profile (made now only
    /// if it was never written) and its request are sent again; the server answers a
    /// request for the same name and key with the same certificate. No key is ever replaced.
    /// `existing` unlocks a key the profile holds already; `keys` is where a new one goes.
    public func resume(existing secret: @autoclosure () throws -> SecretBytes, keys home: @autoclosure () throws -> KeyHome, keySize: RSA.KeySize)
        throws -> any RSA.PrivateOperations {
        let profile = try Profile.load(home: self.home)
        let transport = try makeTransport(server: server, authority: profile.pinnedAuthority(), spool: spool)
        let key = try keyAndRequest(profile: profile, existing: { try profile.key(secret: secret()) }, keys: home, keySize: keySize)
        try transport.sendRegistration(KeyFile.readText(profile.requestPath))
        return key
    }

    /// The profile's key (`existing`, when it has one) and request, each made and written
    /// only when it is not there yet: a new key in `keys` (a file, or the token, labelled
    /// with the user's name).
    func keyAndRequest(profile: Profile, existing: () throws -> any RSA.PrivateOperations, keys home: () throws -> KeyHome,
                       keySize: RSA.KeySize) throws -> any RSA.PrivateOperations {
        let key: any RSA.PrivateOperations
        if case .file(let path) = try profile.storedKey(), !FileManager.default.fileExists(atPath: path) {
            let made = try home().newKey(at: profile.keyPath, label: user.value, usage: .signAndDecrypt, size: keySize, publicFile: true)
            do {
                try AtomicFile.write(made.files)
            } catch {
                KeyHome.discard(made.key)
                throw error
            }
            key = made.key
        } else {
            key = try existing()
        }
        if !FileManager.default.fileExists(atPath: profile.requestPath) {
            try AtomicFile.write(try CertificateRequest(userName: user, key: key).pem, to: profile.requestPath)
        }
        return key
    }

    /// Writes the profile (pinned CA, the server's certificates, settings), then the key and
    /// request, and sends the request. `authority` is the CA the user accepted (fingerprint
    /// compared). The key comes last, so an interrupted run leaves a profile that register
    /// resumes, never a key it would have to replace.
    public func prepare(authority: Certificate, keys home: KeyHome, keySize: RSA.KeySize) throws -> any RSA.PrivateOperations {
        guard try existing() == .none else { throw Failure.alreadyRegistered(self.home) }
        let (transport, profile) = try pin(authority)
        let key = try keyAndRequest(profile: profile, existing: { throw Failure.alreadyRegistered(self.home) }, keys: { home }, keySize: keySize)
        try transport.sendRegistration(KeyFile.readText(profile.requestPath))
        return key
    }

    /// Makes a profile of a key and certificate made elsewhere (`keygen` and `server issue`,
    /// or openssl): the certificate must be this server's, current, for this user and for
    /// this key. The key is written in sealdrop's own format under `passphrase` (a key on a
    /// token: its reference), then the certificate, then the pinned server files; nothing
    /// existing is replaced.
    public func importIdentity(key: any RSA.PrivateOperations, certificate: Certificate, authority: Certificate,
                               passphrase: SecretBytes) throws {
        guard try existing() == .none else { throw Failure.alreadyRegistered(home) }
        try certificate.verify(issuedBy: authority, role: .user)
        guard certificate.subject.commonName == user.value else {
            throw PKIError.certificateRejected("it is issued to \(certificate.subject), not \(user.value)")
        }
        guard certificate.publicKey == key.publicKey else {
            throw PKIError.certificateRejected("it is for another key than the one given")
        }
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let profile = Profile(home: home, settings: .init(server: server, user: user.value, caFingerprint: authority.fingerprint.description))
        switch key {
        case let onToken as TokenKey: try StoredKey.writeReference(to: onToken, forKeyAt: profile.keyPath)
        case let inMemory as RSA.PrivateKey: try KeyFile.write(inMemory, base: "\(home)/\(user.value)", passphrase: passphrase)
        default: throw PKIError.unsupportedAlgorithm("a key that is neither in a file nor on a PKCS#11 token")
        }
        try AtomicFile.write(certificate.pem, to: profile.certificatePath)
        _ = try pin(authority)
    }

    /// Checks the server's encryption and delivery certificates against `authority` and
    /// writes them, the CA and the settings into the profile; returns the pinned transport.
    func pin(_ authority: Certificate) throws -> (any ServerTransport, Profile) {
        // From here on, a gateway is reached over TLS pinned to the CA the user accepted.
        let transport = try makeTransport(server: server, authority: authority, spool: spool)
        // The server's roles are pinned with its CA: a user certificate put in their place
        // while someone registers is refused here and forever after.
        let encryption = try Certificate(pem: transport.publishedCertificate("encryption.crt"))
        try encryption.verify(issuedBy: authority, role: .encryption)
        let delivery = try Certificate(pem: transport.publishedCertificate("delivery.crt"))
        try delivery.verify(issuedBy: authority, role: .delivery)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let profile = Profile(home: home, settings: .init(server: server, user: user.value, caFingerprint: authority.fingerprint.description))
        try AtomicFile.write(authority.pem, to: profile.caPath, replace: true)
        try AtomicFile.write(encryption.pem, to: profile.encryptionPath, replace: true)
        try AtomicFile.write(delivery.pem, to: profile.deliveryPath, replace: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(Array(try encoder.encode(profile.settings)), to: home + "/profile.json", replace: true)
        return (transport, profile)
    }

    /// Renews this profile's certificate before it expires, for the same key: a renewal
    /// request signed with the current certificate, then the new certificate, checked and
    /// saved as at registration. An expired or revoked certificate cannot renew.
    public func renew(secret: SecretBytes, timeout: Double) throws -> Certificate {
        let profile = try Profile.load(home: home)
        let signer = try profile.signer(secret: secret)
        let transport = try profile.transport(key: signer.key)
        let summary = try transport.sendMessage(
            RenewalRequest(user: user.value), name: RenewalRequest.envelopeName, mediaType: RenewalRequest.mediaType,
            sealer: EnvelopeSealer(signer: signer, recipient: RSARecipient(key: try profile.encryptionCertificate().publicKey)))
        do {
            return try awaitCertificate(for: signer.key, timeout: timeout, transport: transport,
                                        refusedID: summary.envelopeID.hexString)
        } catch Failure.refused(let reason) {
            throw Failure.renewalRefused(reason)
        }
    }

    /// Waits for the server's answer to the request for `key`: the certificate (checked
    /// against the pinned CA, the name and the key, then saved) or the refusal. `refusedID`
    /// is the renewal request's envelope id, whose refusal note ends the wait too.
    public func awaitCertificate(for key: any RSA.PrivateOperations, timeout: Double, transport given: (any ServerTransport)? = nil,
                                 refusedID: String? = nil) throws -> Certificate {
        let profile = try Profile.load(home: home)
        let transport = try given ?? makeTransport(server: server, authority: profile.pinnedAuthority(), spool: spool)
        let answer = Outbox.answerName(for: key.publicKey)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            switch try transport.registrationAnswer(user: user.value, answer: answer) {
            case .issued(let pem):
                let certificate = try Certificate(pem: pem)
                try certificate.verify(issuedBy: profile.pinnedAuthority(), role: .user)
                guard certificate.subject.commonName == user.value else {
                    throw PKIError.certificateRejected("the server's certificate is issued to \(certificate.subject), not \(user.value)")
                }
                guard certificate.publicKey == key.publicKey else {
                    throw PKIError.certificateRejected("the server's certificate is for another key")
                }
                try AtomicFile.write(certificate.pem, to: profile.certificatePath, replace: true)
                // Collected: remove it (over HTTPS that takes the certificate just received).
                try? profile.transport(key: key).removeFromOutbox(Outbox.certificate(answer: answer), user: user.value)
                return certificate
            case .refused(let reason):
                throw Failure.refused(reason)
            case .pending:
                break
            }
            if let refusedID, let reason = try transport.collectRefusal(id: refusedID, user: user.value) { throw Failure.refused(reason) }
            guard Date() < deadline else { throw Failure.timedOut(timeout) }
            usleep(useconds_t(transport.pollInterval * 1_000_000))
        }
    }
}
