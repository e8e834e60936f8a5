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
        try authority.issue(commonName: name, publicKey: key.publicKey, profile: profile)
    }

    @Test func eachCertificateHoldsExactlyItsRole() throws {
        let user = try Self.issue("alice", .user)
        let encryption = try Self.issue("sealdrop encryption", .encryption)
        let delivery = try Self.issue("sealdrop delivery", .delivery)
        let cases: [(Certificate, CertificateAuthority.Profile)] = [(user, .user), (encryption, .encryption), (delivery, .delivery)]
        for (certificate, role) in cases {
            for other in [CertificateAuthority.Profile.user, .encryption, .delivery] {
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
    }
}
