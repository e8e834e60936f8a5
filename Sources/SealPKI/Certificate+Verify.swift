import Foundation
import GcryptKit

extension Certificate {
    /// Checks that this certificate was issued by `authority` and may be used now for
    /// `usage`: issuer name and key identifier, the CA's signature, the validity period,
    /// and the key usage. With `name`, the subject's common name must equal it.
    ///
    /// Throws `PKIError.certificateRejected` or `.badSignature` with the reason.
    public func verify(issuedBy authority: Certificate, at now: Date = Date(), for usage: KeyUsage = [], name: String? = nil) throws {
        guard authority.extensions.isCA == true, authority.extensions.keyUsage?.contains(.keyCertSign) ?? true else {
            throw PKIError.certificateRejected("the CA certificate is not a certificate authority")
        }
        guard issuer == authority.subject else {
            throw PKIError.certificateRejected("issued by \"\(issuer)\", not by the CA \"\(authority.subject)\"")
        }
        if let aki = extensions.authorityKeyIdentifier, let ski = authority.extensions.subjectKeyIdentifier, aki != ski {
            throw PKIError.certificateRejected("authority key identifier does not match the CA")
        }
        guard hasValidSignature(from: authority.publicKey) else {
            throw PKIError.badSignature("certificate: it was not signed by this CA or was altered")
        }
        guard now >= notBefore else { throw PKIError.certificateRejected("not valid before \(notBefore)") }
        guard now <= notAfter else { throw PKIError.certificateRejected("expired on \(notAfter)") }
        if self != authority {
            guard extensions.isCA != true else { throw PKIError.certificateRejected("a CA certificate cannot be used as a user certificate") }
        }
        if !usage.isEmpty {
            guard let keyUsage = extensions.keyUsage, keyUsage.isSuperset(of: usage) else {
                throw PKIError.certificateRejected("key usage does not allow \(usage)")
            }
        }
        if let name, subject.commonName != name {
            throw PKIError.certificateRejected("issued to \"\(subject.commonName ?? "")\", not \"\(name)\"")
        }
    }
}

extension Certificate {
    /// Checks that this certificate holds exactly `role` (KEYS.md, "Roles"): a server role's
    /// subject and a keyUsage of exactly that role's bits; for a user, a valid user name
    /// and the user's bits. So a user certificate is never taken for a server role (a user
    /// certificate swapped into encryption.crt), nor a server certificate for a user.
    public func check(role: CertificateAuthority.Profile) throws {
        guard extensions.isCA != true, extensions.keyUsage == role.keyUsage else {
            throw PKIError.certificateRejected("\(subject) is not a \(role) certificate (key usage)")
        }
        guard extensions.extendedKeyUsage == role.extendedKeyUsage else {
            throw PKIError.certificateRejected("\(subject) is not a \(role) certificate (extended key usage)")
        }
        switch role.serverCommonName {
        case .some(let name):
            guard subject.commonName == name else { throw PKIError.certificateRejected("\(subject) is not the server's \(role) certificate") }
        case .none:
            guard let name = subject.commonName, (try? UserName(name)) != nil else {
                throw PKIError.certificateRejected("\(subject) is not a user certificate")
            }
        }
    }

    /// `verify(issuedBy:at:)` and `check(role:)` together.
    public func verify(issuedBy authority: Certificate, at now: Date = Date(), role: CertificateAuthority.Profile) throws {
        try verify(issuedBy: authority, at: now, for: role.keyUsage)
        try check(role: role)
    }
}
