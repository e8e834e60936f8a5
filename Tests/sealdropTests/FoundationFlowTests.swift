import Foundation
import Testing

/// keygen -> request -> server init -> server issue -> cert verify, run as a user would,
/// with openssl checking every file sealdrop writes.
@Suite(.serialized) struct FoundationFlowTests {
    @Test func fullFlowAndOpenSSLAcceptsEverything() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let keygen = try w.sealdrop(["keygen", "--out", "alice", "--bits", "2048"])
        #expect(keygen.status == 0, "\(keygen.stderr)")
        #expect(keygen.stdout.contains("fingerprint SHA256:"))
        let mode = try FileManager.default.attributesOfItem(atPath: w.path("alice.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try w.read("alice.key").hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))

        #expect(try w.sealdrop(["request", "--key", "alice.key", "--user", "alice", "-o", "alice.csr"]).status == 0)
        let initialise = try w.sealdrop(["server", "init", "root", "--bits", "2048"])
        #expect(initialise.status == 0, "\(initialise.stderr)")
        #expect(initialise.stdout.contains("CA fingerprint SHA256:"))
        for directory in ["inbox/tmp", "inbox/new", "quarantine", "blobs", "outbox"] {
            #expect(w.exists("root/" + directory), "\(directory)")
        }
        let issue = try w.sealdrop(["server", "issue", "root", "alice.csr", "-o", "alice.crt"])
        #expect(issue.status == 0, "\(issue.stderr)")
        let verify = try w.sealdrop(["cert", "verify", "alice.crt", "--ca", "root/ca.crt", "--name", "alice"])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(verify.stdout.contains("alice.crt: OK"))

        let pkey = try w.openssl(["pkey", "-in", "alice.key", "-passin", "pass:test passphrase", "-check", "-noout"])
        #expect(pkey.status == 0 && pkey.stdout.contains("Key is valid"), "\(pkey.stderr)")
        let req = try w.openssl(["req", "-verify", "-in", "alice.csr", "-noout"])
        #expect(req.status == 0, "\(req.stderr)")
        let x509 = try w.openssl(["verify", "-x509_strict", "-CAfile", "root/ca.crt", "alice.crt", "root/encryption.crt"])
        #expect(x509.status == 0, "\(x509.stdout)\(x509.stderr)")

        // The printed CA fingerprint is the one openssl computes.
        let printed = initialise.stdout.split(separator: "\n").first { $0.hasPrefix("CA fingerprint") }!
        let opensslPrint = try w.openssl(["x509", "-in", "root/ca.crt", "-noout", "-fingerprint", "-sha256"])
        #expect(printed.hasSuffix(opensslPrint.stdout.split(separator: "=").last!.trimmingCharacters(in: .whitespacesAndNewlines)))

        let show = try w.sealdrop(["cert", "show", "alice.crt", "--json"])
        let fields = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        #expect(fields?["subject"] as? String == "CN=alice")
        #expect(fields?["key_usage"] as? String == "digitalSignature, keyEncipherment")
        #expect(fields?["ca"] as? Bool == false, "yes/no fields are booleans")

        // Issuing the same name twice is refused and writes nothing.
        let again = try w.sealdrop(["server", "issue", "root", "alice.csr", "-o", "alice2.crt"])
        #expect(again.status != 0)
        #expect(again.stderr.contains("already registered"))
        #expect(!w.exists("alice2.crt"))
    }

    /// `server init --hostname` certifies the TLS key for those names; `server tls-cert`
    /// replaces key and certificate; openssl accepts both for a TLS server of those names only.
    @Test func tlsCertificateForTheNamesGiven() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        let initialise = try w.sealdrop(["server", "init", "root", "--bits", "2048", "--hostname", "drop.example.org", "--hostname", "192.0.2.10"])
        #expect(initialise.status == 0, "\(initialise.stderr)")
        #expect(initialise.stdout.contains("(for drop.example.org, 192.0.2.10)"))
        let check = { (name: String, flag: String) in
            try w.openssl(["verify", "-x509_strict", "-purpose", "sslserver", flag, name, "-CAfile", "root/ca.crt", "root/tls.crt"])
        }
        #expect(try check("drop.example.org", "-verify_hostname").status == 0)
        #expect(try check("192.0.2.10", "-verify_ip").status == 0)
        #expect(try check("other.example.org", "-verify_hostname").status != 0)
        let mode = try FileManager.default.attributesOfItem(atPath: w.path("root/tls.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let before = try w.read("root/tls.key")

        let reissue = try w.sealdrop(["server", "tls-cert", "root", "--bits", "2048", "--hostname", "localhost"])
        #expect(reissue.status == 0, "\(reissue.stderr)")
        #expect(try w.read("root/tls.key") != before)
        #expect(try check("localhost", "-verify_hostname").status == 0)
        #expect(try check("drop.example.org", "-verify_hostname").status != 0)
        let pkey = try w.openssl(["pkey", "-in", "root/tls.key", "-passin", "pass:test passphrase", "-pubout"])
        let certKey = try w.openssl(["x509", "-in", "root/tls.crt", "-noout", "-pubkey"])
        #expect(pkey.status == 0 && pkey.stdout == certKey.stdout)

        let bad = try w.sealdrop(["server", "tls-cert", "root", "--hostname", "not a name"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--hostname not a name: not a DNS name"))
        let wrong = try w.sealdrop(["server", "tls-cert", "root", "--bits", "2048"], passphrase: "wrong")
        #expect(wrong.status == 1)
        #expect(try check("localhost", "-verify_hostname").status == 0)
    }

    /// Any changed byte of the certificate's DER makes `cert verify` fail.
    @Test func tamperedCertificateIsRejected() throws {
        let w = try Workspace()
        defer { w.cleanup() }
        try w.sealdrop(["keygen", "--out", "u", "--bits", "2048"])
        try w.sealdrop(["request", "--key", "u.key", "--user", "dora", "-o", "u.csr"])
        try w.sealdrop(["server", "init", "root", "--bits", "2048"])
        try w.sealdrop(["server", "issue", "root", "u.csr", "-o", "u.crt"])
        let pem = try w.read("u.crt")
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let der = [UInt8](Data(base64Encoded: body)!)
        for index in [20, der.count / 2, der.count - 5] {
            var bad = der
            bad[index] ^= 0x04
            let text = "-----BEGIN CERTIFICATE-----\n" + Data(bad).base64EncodedString(options: .lineLength64Characters)
                + "\n-----END CERTIFICATE-----\n"
            try w.write(text, to: "bad.crt")
            let result = try w.sealdrop(["cert", "verify", "bad.crt", "--ca", "root/ca.crt"])
            #expect(result.status != 0, "byte \(index)")
            #expect(result.stderr.hasPrefix("sealdrop: error: bad.crt: "), "\(result.stderr)")
            #expect(result.stdout.isEmpty)
        }
        // A certificate from another CA is refused too.
        try w.sealdrop(["server", "init", "other", "--bits", "2048"])
        let foreign = try w.sealdrop(["cert", "verify", "u.crt", "--ca", "other/ca.crt"])
        #expect(foreign.status != 0)
        #expect(foreign.stderr.contains("not by the CA"))
    }
}
