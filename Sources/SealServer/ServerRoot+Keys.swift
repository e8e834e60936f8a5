import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// The server's side of its root: the layout made, the keys in it, certificates issued.
extension ServerRoot {
    /// Every directory and its mode (docs/SERVER.md, "Who writes what"), set explicitly so
    /// that no umask widens or narrows them: users may only create files in the inbox, whose
    /// sticky bit keeps them from moving or removing one another's drops; what the server
    /// keeps for itself, no user can read.
    public static let layout: [(directory: String, mode: mode_t)] = [
        ("", 0o755), ("inbox", 0o755), ("inbox/tmp", 0o1733), ("inbox/new", 0o1733), ("work", 0o700),
        ("quarantine", 0o700), ("blobs", 0o700), ("outbox", 0o755),
    ]
    public static let outboxMode: mode_t = 0o755

    /// Creates `path` if needed and sets `mode` exactly, whatever the umask.
    static func makeDirectory(_ path: String, mode: mode_t) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST { throw IOFailure(call: "mkdir", path: path, code: errno) }
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw IOFailure(call: "mkdir", path: path, code: ENOTDIR)
        }
        if info.st_mode & 0o7777 != mode {
            guard chmod(path, mode) == 0 else { throw IOFailure(call: "chmod", path: path, code: errno) }
        }
    }

    /// Creates any directory of the layout that is missing (a root made by an older version).
    func makeLayout() throws {
        for (directory, mode) in Self.layout {
            try Self.makeDirectory(directory.isEmpty ? path : path + "/" + directory, mode: mode)
        }
    }

    /// What `init` made, for the caller to print.
    public struct Created: Sendable {
        public let authority: Certificate
        public let encryption: Certificate
    }

    /// Creates the root: a CA key and self-signed certificate, a separate encryption key
    /// with a certificate from that CA (the CA key never decrypts anything), a delivery key,
    /// a TLS key with a certificate for `hostnames`, and the directories. Every private key
    /// is encrypted under `passphrase`.
    public func initialize(passphrase: SecretBytes, keySize: RSA.KeySize = .default, hostnames: [AltName] = loopbackNames) throws -> Created {
        guard !FileManager.default.fileExists(atPath: caCertificatePath),
              !FileManager.default.fileExists(atPath: caKeyPath) else {
            throw Failure.alreadyInitialized(path)
        }
        let caKey = try RSA.PrivateKey.generate(size: keySize)
        let encryptionKey = try RSA.PrivateKey.generate(size: keySize)
        let deliveryKey = try RSA.PrivateKey.generate(size: keySize)
        let authority = try CertificateAuthority.create(key: caKey)
        let encryption = try authority.issue(
            commonName: CertificateAuthority.Profile.encryption.serverCommonName!, publicKey: encryptionKey.publicKey, profile: .encryption)
        let delivery = try authority.issue(
            commonName: CertificateAuthority.Profile.delivery.serverCommonName!, publicKey: deliveryKey.publicKey, profile: .delivery)

        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try makeLayout()
        try issueTLSCertificate(by: authority, hostnames: hostnames, passphrase: passphrase, keySize: keySize)
        // Certificates last: ca.crt marks a complete root.
        try AtomicFile.write([
            (caKeyPath, Array(try EncryptedPrivateKey.pem(for: caKey, passphrase: passphrase).utf8), 0o600),
            (encryptionKeyPath, Array(try EncryptedPrivateKey.pem(for: encryptionKey, passphrase: passphrase).utf8), 0o600),
            (deliveryKeyPath, Array(try EncryptedPrivateKey.pem(for: deliveryKey, passphrase: passphrase).utf8), 0o600),
        ])
        _ = try Catalogue(path: databasePath)
        try AtomicFile.write("", to: notificationLogPath)
        try AtomicFile.write([
            (encryptionCertificatePath, Array(encryption.pem.utf8), 0o644),
            (deliveryCertificatePath, Array(delivery.pem.utf8), 0o644),
            (caCertificatePath, Array(authority.certificate.pem.utf8), 0o644),
        ])
        return Created(authority: authority.certificate, encryption: encryption)
    }

    /// Makes a new TLS key and has the CA certify it for `hostnames` (DNS names and IP
    /// addresses clients dial), replacing `tls.key` and `tls.crt` together. Returns the certificate.
    @discardableResult
    public func issueTLSCertificate(
        by authority: CertificateAuthority, hostnames: [AltName], passphrase: SecretBytes, keySize: RSA.KeySize = .default
    ) throws -> Certificate {
        guard !hostnames.isEmpty else { throw PKIError.certificateRejected("a TLS certificate needs at least one host name or address") }
        let key = try RSA.PrivateKey.generate(size: keySize)
        let certificate = try authority.issue(
            commonName: CertificateAuthority.Profile.tls.serverCommonName!, publicKey: key.publicKey, profile: .tls, altNames: hostnames)
        try AtomicFile.write([
            (tlsKeyPath, Array(try EncryptedPrivateKey.pem(for: key, passphrase: passphrase).utf8), 0o600),
            (tlsCertificatePath, Array(certificate.pem.utf8), 0o644),
        ], replace: true)
        return certificate
    }

    /// The TLS certificate, checked against the CA, and its key.
    public func tlsIdentity(passphrase: SecretBytes) throws -> (certificate: Certificate, key: any RSA.PrivateOperations) {
        guard FileManager.default.fileExists(atPath: tlsCertificatePath) else { throw Failure.noTLSCertificate(path) }
        let certificate = try Certificate(pem: KeyFile.readText(tlsCertificatePath))
        try certificate.verify(issuedBy: authorityCertificate(), role: .tls)
        let key = try KeyFile.readPrivateKey(at: tlsKeyPath, passphrase: passphrase)
        guard key.publicKey == certificate.publicKey else {
            throw PKIError.certificateRejected("\(tlsKeyPath) is not the key of \(tlsCertificatePath)")
        }
        return (certificate, key)
    }

    /// The CA with its private key, for issuing.
    public func authority(passphrase: SecretBytes) throws -> CertificateAuthority {
        let certificate = try authorityCertificate()
        let key = try KeyFile.readPrivateKey(at: caKeyPath, passphrase: passphrase)
        return try CertificateAuthority(certificate: certificate, key: key)
    }

    /// The catalogue, opened (and migrated) on demand.
    public func catalogue() throws -> Catalogue {
        _ = try authorityCertificate()
        return try Catalogue(path: databasePath)
    }

    /// The server's encryption certificate, checked against the CA.
    public func encryptionCertificate() throws -> Certificate {
        let certificate = try Certificate(pem: KeyFile.readText(encryptionCertificatePath))
        try certificate.verify(issuedBy: authorityCertificate(), role: .encryption)
        return certificate
    }

    /// The server's delivery certificate, checked against the CA.
    public func deliveryCertificate() throws -> Certificate {
        let certificate = try Certificate(pem: KeyFile.readText(deliveryCertificatePath))
        try certificate.verify(issuedBy: authorityCertificate(), role: .delivery)
        return certificate
    }

    /// Issues a user certificate for `request` (self-signature and name checked), hands it to
    /// `deliver` (the administrator's output file), then records the user in the catalogue,
    /// so the name is taken. A delivery that fails leaves the name free; a record that fails
    /// (another issue took the name meanwhile) calls `withdraw` to take the delivery back.
    public func issue(
        _ request: CertificateRequest, by authority: CertificateAuthority, in catalogue: Catalogue,
        deliver: (Certificate) throws -> Void = { _ in }, withdraw: (Certificate) -> Void = { _ in }
    ) throws -> Certificate {
        guard request.hasValidSelfSignature else { throw PKIError.badSignature("certificate request") }
        let name = try request.userName()
        guard try catalogue.user(named: name.value) == nil else { throw Catalogue.Failure.nameTaken(name.value) }
        // Checked before issuing, so a refused request leaves no certificate behind.
        if let owner = try catalogue.revokedKeyOwner(request.publicKey.fingerprint.description) {
            throw Catalogue.Failure.keyRevoked(owner)
        }
        let certificate = try authority.issue(for: request)
        try deliver(certificate)
        do {
            try catalogue.addUser(name: name.value, certificate: certificate.der, fingerprint: certificate.fingerprint.description)
        } catch {
            withdraw(certificate)
            throw error
        }
        return certificate
    }
}
