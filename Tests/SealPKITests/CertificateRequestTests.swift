import Foundation
import GcryptKit
import SealPKI
import Testing

@Suite struct CertificateRequestTests {
    @Test func roundTripAndIssue() throws {
        let request = try CertificateRequest(userName: UserName("alice"), key: userKey)
        let parsed = try CertificateRequest(pem: request.pem)
        #expect(parsed.hasValidSelfSignature)
        #expect(try parsed.userName().value == "alice")
        let cert = try authority.issue(for: parsed)
        try cert.verify(issuedBy: authority.certificate, name: "alice")
    }

    @Test func openSSLVerifiesOurRequest() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let path = try scratch.write(try CertificateRequest(userName: UserName("alice"), key: userKey).pem, to: "a.csr")
        let result = try openssl(["req", "-verify", "-in", path, "-noout", "-subject"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("CN = alice") || result.stderr.contains("verify OK"))
    }

    /// A request whose signature does not match its key (someone else's key pasted in) is refused.
    @Test func tamperedRequestIsRefused() throws {
        let der = try CertificateRequest(userName: UserName("alice"), key: userKey).der
        var refused = 0
        for index in der.indices {
            var bad = der
            bad[index] ^= 0x80
            if let request = try? CertificateRequest(der: bad), request.hasValidSelfSignature,
               (try? request.userName()) != nil {
                Issue.record("byte \(index) flipped was accepted")
            } else {
                refused += 1
            }
        }
        #expect(refused == der.count)
        let request = try CertificateRequest(der: der)
        #expect(throws: PKIError.self) {
            try authority.issue(for: CertificateRequest(der: Array(der.dropLast(3))))
        }
        #expect(request.hasValidSelfSignature)
    }
}
