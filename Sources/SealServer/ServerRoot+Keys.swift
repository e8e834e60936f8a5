import DropProtocol
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import SealToken

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

    /// The root's private keys and what each may do; on a token, its object label.
    enum Role: String, CaseIterable {
        case ca, encryption, delivery, tls
        var usage: TokenKey.Usage { self == .encryption ? .decrypt : .sign }
    }

    func keyPath(_ role: Role) -> String {
        switch role {
        case .ca: caKeyPath
        case .encryption: encryptionKeyPath
        case .delivery: deliveryKeyPath
        case .tls: tlsKeyPath
        }
    }

    /// A new key for `role` in `home`, and the file that records it.
    func newKey(_ role: Role, in home: KeyHome, size: RSA.KeySize, sharingLabel: Bool = false)
        throws -> (key: any RSA.PrivateOperations, file: (path: String, bytes: [UInt8], mode: mode_t)) {
        let (key, files) = try home.newKey(at: keyPath(role), label: role.rawValue, usage: role.usage, size: size, sharingLabel: sharingLabel)
        return (key, files[0])
    }

    /// Where the root keeps its keys, told by its CA key: a file, or a token.
    public func keyStorage() throws -> StoredKey {
        try StoredKey.locate(caKeyPath)
    }

    /// Where new keys of this root go (a replaced TLS key): beside the others.
    public func keyHome(secret: SecretBytes) throws -> KeyHome {
        switch try keyStorage() {
        case .file: .files(passphrase: secret)
        case .token(let uri, _): .token(try StoredKey.tokenKey(uri, pin: secret).token)
        }
    }

    /// Creates the root: a CA key and self-signed certificate, a separate encryption key
    /// with a certificate from that CA (the CA key never decrypts anything), a delivery key,
    /// a TLS key with a certificate for `hostnames`, and the directories. Every private key
    /// is encrypted under the passphrase, or made on the token, where only the encryption
    /// key may decrypt and only the others sign. A failure leaves no key on the token.
    ///
    /// With `databaseURL` the catalogue is that PostgreSQL database, which must belong to no
    /// server yet (checked before any key is made); further nodes then `join` this root.
    public func initialize(keys home: KeyHome, keySize: RSA.KeySize = .default, hostnames: [AltName] = loopbackNames,
                           databaseURL: String? = nil) throws -> Created {
        try checkUninitialized()
        let shared = try databaseURL.map { Catalogue(store: try PostgresStore(url: $0)) }
        if let shared, let bound = try shared.store.authority() {
            throw Catalogue.Failure.belongsToAnotherServer(location: shared.location, authority: bound)
        }
        var made: [any RSA.PrivateOperations] = []
        do {
            let ca = try newKey(.ca, in: home, size: keySize)
            made.append(ca.key)
            let encryptionKey = try newKey(.encryption, in: home, size: keySize)
            made.append(encryptionKey.key)
            let deliveryKey = try newKey(.delivery, in: home, size: keySize)
            made.append(deliveryKey.key)
            let authority = try CertificateAuthority.create(key: ca.key)
            let encryption = try authority.issue(
                commonName: CertificateAuthority.Profile.encryption.serverCommonName!, publicKey: encryptionKey.key.publicKey, profile: .encryption)
            let delivery = try authority.issue(
                commonName: CertificateAuthority.Profile.delivery.serverCommonName!, publicKey: deliveryKey.key.publicKey, profile: .delivery)

            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try makeLayout()
            try issueTLSCertificate(by: authority, hostnames: hostnames, keys: home, keySize: keySize) { made.append($0) }
            // Certificates last: ca.crt marks a complete root.
            try AtomicFile.write([ca.file, encryptionKey.file, deliveryKey.file])
            if let databaseURL { try AtomicFile.write(databaseURL + "\n", to: catalogueURLPath, mode: 0o600) }
            let catalogue = try shared ?? Catalogue(path: databasePath)
            try AtomicFile.write("", to: notificationLogPath)
            try AtomicFile.write([
                (encryptionCertificatePath, Array(encryption.pem.utf8), 0o644),
                (deliveryCertificatePath, Array(delivery.pem.utf8), 0o644),
                (caCertificatePath, Array(authority.certificate.pem.utf8), 0o644),
            ])
            // Bound once the root is complete; killed before, the first open binds it.
            try catalogue.bind(authority: authority.certificate.fingerprint.description)
            return Created(authority: authority.certificate, encryption: encryption)
        } catch {
            made.forEach(KeyHome.discard)
            throw error
        }
    }

    /// Makes this root a further node of the server at `existing`, whose catalogue is on
    /// PostgreSQL: the same CA, encryption and delivery keys (the files, still encrypted under
    /// their passphrase, or the references to the token that holds them) and certificates,
    /// the same database (`databaseURL`, or the one `existing` names), its own inbox, blobs and
    /// log, and a TLS key of its own for `hostnames`, certified by the CA, which `secret`
    /// unlocks. `existing` may be a copy of that root's key files, certificates and
    /// catalogue.url brought from another machine. Returns the node's TLS certificate.
    @discardableResult
    public func join(_ existing: ServerRoot, secret: SecretBytes, databaseURL: String? = nil, keySize: RSA.KeySize = .default,
                     hostnames: [AltName] = loopbackNames) throws -> Certificate {
        try checkUninitialized()
        guard let existingURL = try existing.catalogueURL() else { throw CatalogueFailure.notShared(existing.path) }
        let url = databaseURL ?? existingURL
        let authority = try existing.authority(secret: secret)
        let catalogue = Catalogue(store: try PostgresStore(url: url))
        let bound = try catalogue.store.authority()
        guard bound == authority.certificate.fingerprint.description else {
            throw bound.map { Catalogue.Failure.belongsToAnotherServer(location: catalogue.location, authority: $0) }
                ?? CatalogueFailure.noServer(catalogue.location)
        }
        let home = try existing.keyHome(secret: secret)
        var made: (any RSA.PrivateOperations)?
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try makeLayout()
            var copies: [(path: String, bytes: [UInt8], mode: mode_t)] = []
            for role in [Role.ca, .encryption, .delivery] {
                for (from, to, mode) in [(existing.keyPath(role), keyPath(role), mode_t(0o600)),
                                         (StoredKey.referencePath(forKeyAt: existing.keyPath(role)), StoredKey.referencePath(forKeyAt: keyPath(role)), 0o644)] {
                    if let bytes = try KeyFile.readBytesIfPresent(from, limit: 1 << 20, followSymlinks: true) { copies.append((to, bytes, mode)) }
                }
            }
            try AtomicFile.write(copies)
            try AtomicFile.write(url + "\n", to: catalogueURLPath, mode: 0o600)
            let certificate = try issueTLSCertificate(by: authority, hostnames: hostnames, keys: home, keySize: keySize) { made = $0 }
            try AtomicFile.write("", to: notificationLogPath)
            // Certificates last: ca.crt marks a complete root.
            try AtomicFile.write([
                (encryptionCertificatePath, Array(try existing.encryptionCertificate().pem.utf8), 0o644),
                (deliveryCertificatePath, Array(try existing.deliveryCertificate().pem.utf8), 0o644),
                (caCertificatePath, Array(authority.certificate.pem.utf8), 0o644),
            ])
            return certificate
        } catch {
            made.map(KeyHome.discard)
            throw error
        }
    }

    /// Throws `alreadyInitialized` when the root has a CA certificate or key.
    func checkUninitialized() throws {
        guard !FileManager.default.fileExists(atPath: caCertificatePath),
              !FileManager.default.fileExists(atPath: caKeyPath),
              !FileManager.default.fileExists(atPath: StoredKey.referencePath(forKeyAt: caKeyPath)) else {
            throw Failure.alreadyInitialized(path)
        }
    }

    /// Makes a new TLS key (in `home`) and has the CA certify it for `hostnames` (DNS names
    /// and IP addresses clients dial), replacing the TLS key and `tls.crt` together. A key
    /// replaced on a token is removed from it. Returns the certificate.
    @discardableResult
    public func issueTLSCertificate(
        by authority: CertificateAuthority, hostnames: [AltName], keys home: KeyHome, keySize: RSA.KeySize = .default,
        made: (any RSA.PrivateOperations) -> Void = { _ in }
    ) throws -> Certificate {
        guard !hostnames.isEmpty else { throw PKIError.certificateRejected("a TLS certificate needs at least one host name or address") }
        var replaced: TokenKey?
        if case .token(let token) = home, case .token(let uri, _) = try StoredKey.locate(tlsKeyPath) {
            // The new key shares the label "tls" until its reference (by id) is in place;
            // then the old one goes. Killed between, the old key stays on the token unused.
            replaced = try TokenKey.find(uri, on: token)
        }
        let (key, file) = try newKey(.tls, in: home, size: keySize, sharingLabel: replaced != nil)
        made(key)
        let certificate = try authority.issue(
            commonName: CertificateAuthority.Profile.tls.serverCommonName!, publicKey: key.publicKey, profile: .tls, altNames: hostnames)
        try AtomicFile.write([file, (tlsCertificatePath, Array(certificate.pem.utf8), 0o644)], replace: true)
        try replaced?.destroy()
        return certificate
    }

    /// The root's private keys at `paths`, unlocked with `secret` (the key files' passphrase,
    /// or the token's PIN); key files are decrypted side by side.
    public func privateKeys(_ paths: [String], secret: SecretBytes) throws -> [any RSA.PrivateOperations] {
        let stored = try paths.map(StoredKey.locate)
        if stored.allSatisfy({ if case .file = $0 { true } else { false } }) {
            return try KeyFile.readPrivateKeys(at: paths, passphrase: secret)
        }
        return try stored.map { try $0.unlock(secret) }
    }

    /// The TLS certificate, checked against the CA, and its key.
    public func tlsIdentity(secret: SecretBytes) throws -> (certificate: Certificate, key: any RSA.PrivateOperations) {
        guard FileManager.default.fileExists(atPath: tlsCertificatePath) else { throw Failure.noTLSCertificate(path) }
        let certificate = try Certificate(pem: KeyFile.readText(tlsCertificatePath))
        try certificate.verify(issuedBy: authorityCertificate(), role: .tls)
        let key = try privateKeys([tlsKeyPath], secret: secret)[0]
        guard key.publicKey == certificate.publicKey else {
            throw PKIError.certificateRejected("the TLS key is not the key of \(tlsCertificatePath)")
        }
        return (certificate, key)
    }

    /// Moves the root's key files onto `token`, role by role: the key imported (sensitive,
    /// never extractable from then on, limited to its use), its reference written, then its
    /// file removed. Interrupted, it is run again: a role whose reference names the file's
    /// own key only loses its file, one whose label on the token holds the file's key gets
    /// its reference. Returns the roles moved now.
    public func migrateKeys(passphrase: SecretBytes, to token: Token) throws -> [String] {
        var moved: [String] = []
        for role in Role.allCases {
            let path = keyPath(role)
            guard FileManager.default.fileExists(atPath: path) else { continue }
            let reference = StoredKey.referencePath(forKeyAt: path)
            let key = try KeyFile.readPrivateKey(at: path, passphrase: passphrase)
            if FileManager.default.fileExists(atPath: reference) {
                let text = try KeyFile.readText(reference).trimmingCharacters(in: .whitespacesAndNewlines)
                let onToken = try TokenKey.find(try PKCS11URI(parsing: text), on: token)
                guard onToken.publicKey == key.publicKey else {
                    throw PKIError.certificateRejected("\(reference) names another key than \(path): keep both and sort them out by hand")
                }
            } else {
                let label = PKCS11URI(token: token.label, object: role.rawValue, type: "private")
                let onToken: TokenKey
                if let earlier = try? TokenKey.find(label, on: token), earlier.publicKey == key.publicKey {
                    onToken = earlier
                } else {
                    onToken = try TokenKey.importKey(key, to: token, label: role.rawValue, usage: role.usage)
                }
                try StoredKey.writeReference(to: onToken, forKeyAt: path)
            }
            guard unlink(path) == 0 else { throw IOFailure(call: "unlink", path: path, code: errno) }
            moved.append(role.rawValue)
        }
        try AtomicFile.syncDirectory(path)
        return moved
    }

    /// The CA with its private key, for issuing.
    public func authority(secret: SecretBytes) throws -> CertificateAuthority {
        let certificate = try authorityCertificate()
        let key = try privateKeys([caKeyPath], secret: secret)[0]
        return try CertificateAuthority(certificate: certificate, key: key)
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
