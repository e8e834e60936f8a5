import Foundation
import GcryptKit
import Testing
@testable import SealPKI

/// Server roles are pinned by subject and exact key usage: a user certificate is never taken
/// for a server role, nor the reverse (hardening issue, item 4).
@Suite struct RoleTests {
    static let caKey = try! RSA.PrivateKey.generate(size: .bits2048)
    static let key = try! RSA.PrivateKey.generate(size: .bits2048)
    static let authority = try! CertificateAuthority.create(key: caKey)

    static func issue(_ name: String, _ profile: CertificateAuthority.Profile) throws -> Certificate {
        try authority.issue(commonName: name, publicKey: key.publicKey, profile: profile,
                            altNames: profile == .tls ? [.dns("localhost")] : nil)
    }

    @Test func eachCertificateHoldsExactlyItsRole() throws {
        let user = try Self.issue("alice", .user)
        let encryption = try Self.issue("sealdrop encryption", .encryption)
        let delivery = try Self.issue("sealdrop delivery", .delivery)
        let tls = try Self.issue("sealdrop tls", .tls)
        let cases: [(Certificate, CertificateAuthority.Profile)] = [
            (user, .user), (encryption, .encryption), (delivery, .delivery), (tls, .tls),
        ]
        for (certificate, role) in cases {
            for other in [CertificateAuthority.Profile.user, .encryption, .delivery, .tls] {
                if other == role {
                    try certificate.verify(issuedBy: Self.authority.certificate, role: other)
                } else {
                    #expect(throws: PKIError.self, "\(certificate.subject) as \(other)") {
                        try certificate.verify(issuedBy: Self.authority.certificate, role: other)
                    }
                }
            }
        }
        #expect(throws: PKIError.self) { try Self.authority.certificate.check(role: .encryption) }
    }

    /// The subject alone does not make a role, nor the key usage alone.
    @Test func subjectAndKeyUsageMustBothMatch() throws {
        #expect(throws: PKIError.self) { try Self.issue("sealdrop encryption", .user).check(role: .encryption) }
        #expect(throws: PKIError.self) { try Self.issue("sealdrop encryption", .user).check(role: .user) }
        #expect(throws: PKIError.self) { try Self.issue("mallory", .encryption).check(role: .encryption) }
        #expect(throws: PKIError.self) { try Self.issue("mallory", .delivery).check(role: .user) }
        // The TLS role also needs extendedKeyUsage serverAuth: a delivery certificate renamed is not one.
        #expect(throws: PKIError.self) { try Self.issue("sealdrop tls", .delivery).check(role: .tls) }
    }

    /// A TLS server certificate carries its names and serverAuth, reads back the same, and
    /// openssl sees them and accepts it for TLS servers (and not for TLS clients).
    @Test func tlsCertificatesCarryTheirNamesForOpenSSL() throws {
        let names: [AltName] = ["gallery.example.org", "10.0.0.7", "fe80::1", "LocalHost"].compactMap(AltName.init)
        #expect(names.count == 4)
        let tls = try Self.authority.issue(commonName: "sealdrop tls", publicKey: Self.key.publicKey, profile: .tls, altNames: names)
        let parsed = try Certificate(der: tls.der)
        #expect(parsed.extensions.subjectAltNames == names)
        #expect(parsed.extensions.subjectAltNames?.map(\.description) == ["gallery.example.org", "10.0.0.7", "fe80::1", "localhost"])
        #expect(parsed.extensions.extendedKeyUsage == .serverAuth)
        #expect([AltName("bad..name"), AltName("a b"), AltName(""), AltName(".x"), AltName("x/y")].allSatisfy { $0 == nil })

        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let ca = try scratch.write(Self.authority.certificate.pem, to: "ca.crt")
        let server = try scratch.write(tls.pem, to: "tls.crt")
        let text = try openssl(["x509", "-in", server, "-noout", "-ext", "subjectAltName,extendedKeyUsage"])
        #expect(text.stdout.contains("DNS:gallery.example.org, IP Address:10.0.0.7, IP Address:FE80:0:0:0:0:0:0:1, DNS:localhost"),
                "\(text.stdout)")
        #expect(text.stdout.contains("TLS Web Server Authentication"))
        let asServer = try openssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", ca, server])
        #expect(asServer.status == 0, "\(asServer.stdout) \(asServer.stderr)")
        let asClient = try openssl(["verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", ca, server])
        #expect(asClient.status != 0)
    }
}
