import Foundation
import GcryptKit
import SealPKI
import Testing

@Suite struct CertificateTests {
    func issueAlice(now: Date = Date()) throws -> Certificate {
        try authority.issue(commonName: "alice", publicKey: userKey.publicKey, profile: .user, now: now)
    }

    @Test func issuedCertificateVerifies() throws {
        let cert = try issueAlice()
        try cert.verify(issuedBy: authority.certificate, for: [.digitalSignature], name: "alice")
        #expect(cert.subject.commonName == "alice")
        #expect(cert.publicKey == userKey.publicKey)
        #expect(cert.signatureAlgorithm == .rsaPSSSHA256)
        #expect(cert.extensions.isCA == false)
        #expect(cert.extensions.keyUsage == [.digitalSignature, .keyEncipherment])
        #expect(cert.extensions.authorityKeyIdentifier == authority.certificate.extensions.subjectKeyIdentifier)
        #expect(try Certificate(pem: cert.pem) == cert)
        #expect(authority.certificate.isSelfSigned)
    }

    @Test func rejections() throws {
        let cert = try issueAlice()
        let other = try CertificateAuthority.create(key: strangerKey)
        #expect(throws: PKIError.self) { try cert.verify(issuedBy: other.certificate) }
        #expect(throws: PKIError.self) { try cert.verify(issuedBy: authority.certificate, name: "bob") }
        #expect(throws: PKIError.self) { try cert.verify(issuedBy: authority.certificate, at: Date() + 3 * 365 * 86_400) }
        #expect(throws: PKIError.self) { try cert.verify(issuedBy: authority.certificate, at: Date() - 86_400) }
        #expect(throws: PKIError.self) { try cert.verify(issuedBy: cert) }
        let encryption = try authority.issue(commonName: "enc", publicKey: strangerKey.publicKey, profile: .encryption)
        #expect(throws: PKIError.self) { try encryption.verify(issuedBy: authority.certificate, for: [.digitalSignature]) }
        try encryption.verify(issuedBy: authority.certificate, for: [.keyEncipherment])
    }

    /// Every single-byte change to a certificate either fails to parse or fails to verify.
    @Test func everyTamperedByteIsRejected() throws {
        let der = try issueAlice().der
        for index in der.indices {
            var bad = der
            bad[index] ^= 0x01
            let accepted = (try? Certificate(der: bad)).map { (try? $0.verify(issuedBy: authority.certificate)) != nil } ?? false
            #expect(!accepted, "byte \(index) flipped was accepted")
        }
    }

    @Test func openSSLVerifiesOurCertificates() throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        let ca = try scratch.write(authority.certificate.pem, to: "ca.crt")
        let user = try scratch.write(try issueAlice().pem, to: "alice.crt")
        let verify = try openssl(["verify", "-x509_strict", "-CAfile", ca, user])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let text = try openssl(["x509", "-in", user, "-noout", "-text"])
        #expect(text.stdout.contains("rsassaPss"))
        #expect(text.stdout.contains("Subject: CN = alice"))
        #expect(text.stdout.contains("Salt Length: 0x20"))
        let fingerprint = try openssl(["x509", "-in", ca, "-noout", "-fingerprint", "-sha256"])
        #expect(fingerprint.stdout.contains(authority.certificate.fingerprint.description.dropFirst("SHA256:".count)))
    }

    /// A CA and certificates made by openssl itself, both PKCS#1 v1.5 and PSS signed.
    @Test(arguments: [[String](), ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]])
    func weVerifyOpenSSLCertificates(signOptions: [String]) throws {
        let scratch = try Scratch()
        defer { scratch.cleanup() }
        func run(_ args: [String]) throws {
            let result = try openssl(args)
            #expect(result.status == 0, "openssl \(args): \(result.stderr)")
        }
        try run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", scratch.path("ca.key"), "-out", scratch.path("ca.crt"),
                 "-subj", "/CN=openssl CA", "-days", "30", "-sha256"] + signOptions)
        try run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", scratch.path("u.key"), "-out", scratch.path("u.csr"),
                 "-subj", "/CN=carol"])
        try scratch.write("basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n", to: "ext.cnf")
        try run(["x509", "-req", "-in", scratch.path("u.csr"), "-CA", scratch.path("ca.crt"), "-CAkey", scratch.path("ca.key"),
                 "-CAcreateserial", "-out", scratch.path("u.crt"), "-days", "30", "-sha256", "-extfile", scratch.path("ext.cnf")] + signOptions)
        let ca = try Certificate(pem: String(contentsOfFile: scratch.path("ca.crt"), encoding: .utf8))
        let user = try Certificate(pem: String(contentsOfFile: scratch.path("u.crt"), encoding: .utf8))
        #expect(ca.isSelfSigned)
        try user.verify(issuedBy: ca, for: [.digitalSignature], name: "carol")
        #expect(user.signatureAlgorithm == (signOptions.isEmpty ? .rsaPKCS1SHA256 : .rsaPSSSHA256))
        // openssl's CSR passes our proof-of-possession check too.
        let request = try CertificateRequest(pem: String(contentsOfFile: scratch.path("u.csr"), encoding: .utf8))
        #expect(request.hasValidSelfSignature)
        #expect(try request.userName().value == "carol")
    }

    @Test func notACertificate() {
        #expect(throws: PKIError.self) { try Certificate(pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n") }
        #expect(throws: PKIError.self) { try Certificate(pem: userKey.publicKey.spkiPEM) }
        #expect(throws: PKIError.self) { try Certificate(pem: "") }
    }
}
