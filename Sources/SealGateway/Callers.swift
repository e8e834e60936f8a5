import DropProtocol
import Foundation
import Hummingbird
import NIOCore
import NIOSSL
import SealPKI
import SealServer

/// A registered user, as their TLS client certificate shows them.
struct Caller: Sendable {
    let name: String
    /// The fingerprint of their key: what envelope ids and revocations are kept under.
    let keyFingerprint: String
}

/// Decides who may connect and who is calling, with SealPKI's rules and the catalogue: the
/// same code that decides who may drop (docs/HTTP.md, "Transport and authentication").
struct Callers: Sendable {
    let authority: Certificate
    let catalogue: Catalogue

    /// The handshake's verdict on a client's certificate chain (only the leaf counts: our CA
    /// issues no intermediates). An unknown or expired certificate fails the handshake; a
    /// revoked user's gets through it only to be told so by their first request (403), in
    /// words a handshake cannot carry. BoringSSL has already checked that the client holds its key.
    func verifyHandshake(_ chain: [NIOSSLCertificate]) -> NIOSSLVerificationResult {
        guard let leaf = chain.first, (try? user(presenting: leaf)) != nil else { return .failed }
        return .certificateVerified
    }

    /// The user behind `certificate`, checked again at every request, so a user revoked
    /// while connected is refused at their next request.
    func caller(presenting certificate: NIOSSLCertificate) throws -> Caller {
        let (user, key) = try user(presenting: certificate)
        guard user.revokedAt == nil else {
            throw GatewayError(.forbidden, "\(user.name) is revoked on this server; ask its administrator")
        }
        return Caller(name: user.name, keyFingerprint: key)
    }

    /// The registered user (revoked or not) and the key fingerprint behind `certificate`.
    func user(presenting certificate: NIOSSLCertificate) throws -> (UserRecord, String) {
        let presented: Certificate
        do {
            presented = try Certificate(der: certificate.toDERBytes())
            try presented.verify(issuedBy: authority, role: .user)
        } catch {
            throw GatewayError(.forbidden, "your client certificate is not one this server issued or is no longer valid (\(error))")
        }
        guard let user = try catalogue.registeredUser(presenting: presented, authority: authority) else {
            throw GatewayError(.forbidden, "your client certificate is not registered on this server")
        }
        return (user, presented.publicKey.fingerprint.description)
    }
}

/// A request's context: the connection it came on, for its client certificate.
struct GatewayContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The client's address, for limits on requests made before registration.
    var remoteAddress: String { channel.remoteAddress?.ipAddress ?? "unknown" }

    /// The certificate the client presented in the handshake (already verified then), or nil.
    func peerCertificate() async throws -> NIOSSLCertificate? {
        try await channel.nioSSL_peerCertificate().get()
    }
}
