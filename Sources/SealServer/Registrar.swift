import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// Registration through the drop: a PKCS#10 request in the inbox becomes a user. The
/// certificate goes to `outbox/NAME/certificate-KEY.crt`, a refusal to
/// `outbox/NAME/registration-KEY.rejected.json` (KEY: the first 16 hex digits of the
/// requesting key's fingerprint), so a client finds the answer to its own request. The
/// certificate is delivered before the request leaves the inbox, and asking again with the
/// same key delivers it again, so a crash in between loses nothing.
public struct Registrar {
    let root: ServerRoot
    let catalogue: Catalogue
    let authority: CertificateAuthority

    func register(_ path: String) -> Ingester.Verdict {
        let request: CertificateRequest
        do {
            // Read through a descriptor that refuses symlinks: the drop may have been swapped
            // since it was classified.
            var source = try FileSource(path: path, followSymlinks: false)
            request = try CertificateRequest(pem: String(decoding: try source.read(upTo: 1 << 16), as: UTF8.self))
        } catch {
            return .rejected(reason: "unreadable certificate request: \(error)", sender: nil, envelopeID: nil, told: nil)
        }
        guard request.hasValidSelfSignature else {
            return .rejected(reason: "certificate request signature does not verify", sender: nil, envelopeID: nil, told: nil)
        }
        let name: UserName
        do {
            name = try request.userName()
        } catch {
            return .rejected(reason: "\(error)", sender: nil, envelopeID: nil, told: nil)
        }
        let answer = Outbox.answerName(for: request.publicKey)
        let outbox = root.outbox(for: name.value)
        do {
            if try catalogue.user(named: name.value) == nil {
                let certificate = try authority.issue(for: request)
                do {
                    try catalogue.addUser(name: name.value, certificate: certificate.der, fingerprint: certificate.fingerprint.description)
                    try deliver(certificate, to: outbox, answer: answer)
                    return .registered(name.value)
                } catch Catalogue.Failure.nameTaken {
                    // Another request for the name won the race: answer as if it came first.
                } catch let failure as Catalogue.Failure {
                    // A revoked key asking under a new name.
                    try refuse(outbox: outbox, answer: answer, reason: failure.description)
                    return .rejected(reason: failure.description, sender: nil, envelopeID: nil, told: nil)
                }
            }
            return try answerForTakenName(name, request: request, outbox: outbox, answer: answer)
        } catch {
            return .rejected(reason: "registration failed: \(error)", sender: nil, envelopeID: nil, told: nil)
        }
    }

    /// The name has a user: the same key gets its certificate again (a retry, or a crash
    /// after the commit); any other key is refused.
    private func answerForTakenName(_ name: UserName, request: CertificateRequest, outbox: String, answer: String) throws -> Ingester.Verdict {
        if let existing = try catalogue.user(named: name.value),
           let certificate = try? Certificate(der: existing.certificate), certificate.publicKey == request.publicKey {
            try deliver(certificate, to: outbox, answer: answer)
            return .registered(name.value)
        }
        try refuse(outbox: outbox, answer: answer, reason: "the name \"\(name)\" is already registered")
        return .rejected(reason: "name \"\(name)\" is taken", sender: nil, envelopeID: nil, told: nil)
    }

    /// Issues `name` a fresh certificate for `key`, the key of its current one, records it
    /// and delivers it as registration does.
    func renew(_ name: String, key: RSA.PublicKey) throws {
        let certificate = try authority.issue(commonName: name, publicKey: key, profile: .user)
        try catalogue.replaceCertificate(name: name, certificate: certificate.der, fingerprint: certificate.fingerprint.description)
        try deliver(certificate, to: root.outbox(for: name), answer: Outbox.answerName(for: key))
    }

    private func deliver(_ certificate: Certificate, to outbox: String, answer: String) throws {
        try ServerRoot.makeDirectory(outbox, mode: ServerRoot.outboxMode)
        try AtomicFile.write(certificate.pem, to: "\(outbox)/" + Outbox.certificate(answer: answer), replace: true)
    }

    private func refuse(outbox: String, answer: String, reason: String) throws {
        try ServerRoot.makeDirectory(outbox, mode: ServerRoot.outboxMode)
        try AtomicFile.write(try Quarantine.json(["reason": reason]), to: "\(outbox)/" + Outbox.registrationRefusal(answer: answer), replace: true)
    }
}
