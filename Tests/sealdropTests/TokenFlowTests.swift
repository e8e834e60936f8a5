import Foundation
import Testing

/// The whole flow with every private key on a PKCS#11 token (SoftHSM, in a temporary
/// directory): the server's four keys on one token, alice's on another. Nothing asks for a
/// passphrase, no private key file is written anywhere, and what the tokens sign openssl
/// verifies.
@Suite struct TokenFlowTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let scripts = repository.appendingPathComponent("scripts/softhsm").path
    static let images = repository.appendingPathComponent("fixtures/images")

    /// A workspace whose commands see SoftHSM tokens `labels` (PIN 123456 in SEALDROP_PIN),
    /// and the module's path.
    static func workspace(tokens labels: [String]) throws -> (Workspace, String) {
        var workspace = try Workspace()
        let made = try workspace.shell("\(scripts) init hsm \(labels.joined(separator: " "))")
        let module = try workspace.shell("\(scripts) module")
        guard made.status == 0, module.status == 0 else {
            workspace.cleanup()
            throw UsageError(message: "scripts/softhsm failed: \(made.stderr) \(module.stderr)")
        }
        workspace.environment = ["SOFTHSM2_CONF": made.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "SEALDROP_PIN": "123456"]
        return (workspace, module.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func keysOnTokensFromServerInitToFetch() throws {
        let (workspace, module) = try Self.workspace(tokens: ["server", "alice"])
        defer { workspace.cleanup() }
        let initialised = try workspace.sealdrop(
            ["server", "init", "root", "--bits", "2048", "--pkcs11-module", module, "--pkcs11-token", "server"], passphrase: nil)
        #expect(initialised.status == 0, "\(initialised.stderr)")
        for role in ["ca", "encryption", "delivery", "tls"] {
            #expect(!workspace.exists("root/\(role).key"))
            #expect(try workspace.read("root/\(role).pkcs11").hasPrefix("pkcs11:token=server;object=\(role);id="))
        }

        // The token says how it holds them.
        let status = try workspace.sealdrop(["server", "status", "root", "--json"], passphrase: nil)
        let keys = try #require((try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])?["keys"] as? [[String: Any]])
        #expect(keys.count == 4, "\(status.stdout) \(status.stderr)")
        for key in keys {
            #expect(key["token"] as? String == "server")
            #expect(key["sensitive"] as? Bool == true && key["extractable"] as? Bool == false && key["never_extractable"] as? Bool == true,
                    "\(key)")
        }

        let daemon = try workspace.start(["server", "watch", "root", "--rescan", "1"])
        defer { daemon.stop() }
        let fingerprint = try workspace.caFingerprint()
        let registered = try workspace.sealdrop(
            ["register", "--server", "root", "--user", "alice", "--bits", "2048", "--expect-fingerprint", fingerprint,
             "--pkcs11-module", module, "--pkcs11-token", "alice"], home: "alice")
        #expect(registered.status == 0, "\(registered.stderr)")
        #expect(workspace.exists("alice/alice.pkcs11") && !workspace.exists("alice/alice.key"))

        for image in ["camera.png", "coffee.gif"] {
            try FileManager.default.copyItem(atPath: Self.images.appendingPathComponent(image).path, toPath: workspace.path(image))
        }
        let posted = try workspace.sealdrop(["post", "camera.png", "coffee.gif"], home: "alice")
        #expect(posted.status == 0, "\(posted.stderr)")
        #expect(posted.stdout.contains("accepted camera.png") && posted.stdout.contains("accepted coffee.gif"), "\(posted.stdout)")
        let fetched = try workspace.sealdrop(["fetch", "camera.png", "coffee.gif", "-o", "fetched"], home: "alice")
        #expect(fetched.status == 0, "\(fetched.stderr)")
        for image in ["camera.png", "coffee.gif"] {
            #expect(FileManager.default.contentsEqual(atPath: workspace.path(image), andPath: workspace.path("fetched/\(image)")), "\(image)")
        }

        // No private key anywhere: no key file, no PEM private key in any file.
        for file in workspace.listing() where !file.hasPrefix("hsm/") {
            #expect(!file.hasSuffix(".key"), "\(file)")
            let bytes = (try? Data(contentsOf: URL(fileURLWithPath: workspace.path(file)))) ?? Data()
            #expect(!String(decoding: bytes, as: UTF8.self).contains("PRIVATE KEY"), "\(file)")
        }

        // openssl checks what the tokens signed: the CA's certificates, alice's request.
        for certificate in ["root/encryption.crt", "root/delivery.crt", "root/tls.crt", "alice/alice.crt"] {
            let verified = try workspace.openssl(["verify", "-x509_strict", "-CAfile", "root/ca.crt", certificate])
            #expect(verified.status == 0, "\(certificate): \(verified.stdout) \(verified.stderr)")
        }
        let request = try workspace.openssl(["req", "-verify", "-noout", "-in", "alice/alice.csr"])
        #expect(request.status == 0, "\(request.stderr)")
    }

    @Test func tokenErrorsAreSaidInWords() throws {
        var (workspace, module) = try Self.workspace(tokens: ["server"])
        defer { workspace.cleanup() }
        let missing = try workspace.sealdrop(["server", "init", "root", "--pkcs11-module", module, "--pkcs11-token", "absent"], passphrase: nil)
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("no token labelled \"absent\"") && missing.stderr.contains("present: \"server\""), "\(missing.stderr)")
        #expect(!workspace.exists("root/ca.crt"))

        let notAModule = try workspace.sealdrop(["keygen", "--out", "k", "--pkcs11-module", "/nonexistent.so", "--pkcs11-token", "server"])
        #expect(notAModule.stderr.contains("/nonexistent.so: cannot load the PKCS#11 module"), "\(notAModule.stderr)")
        let half = try workspace.sealdrop(["keygen", "--out", "k", "--pkcs11-token", "server"])
        #expect(half.status != 0 && half.stderr.contains("--pkcs11-module and --pkcs11-token together"), "\(half.stderr)")

        #expect(try workspace.sealdrop(["server", "init", "root", "--bits", "2048", "--pkcs11-module", module, "--pkcs11-token", "server"],
                                       passphrase: nil).status == 0)
        workspace.environment["SEALDROP_PIN"] = "000000"
        let wrong = try workspace.sealdrop(["server", "ingest", "root", "--once"], passphrase: nil)
        #expect(wrong.status != 0)
        #expect(wrong.stderr.contains("wrong PIN for token \"server\"") && wrong.stderr.contains("--pin-file"), "\(wrong.stderr)")

        // The PIN from a file; a second root on the same token cannot take the same labels.
        workspace.environment["SEALDROP_PIN"] = nil
        try workspace.write("123456\n", to: "pin")
        let ingested = try workspace.sealdrop(["server", "ingest", "root", "--once", "--pin-file", "pin"], passphrase: nil)
        #expect(ingested.status == 0, "\(ingested.stderr)")
        let second = try workspace.sealdrop(["server", "init", "other", "--pkcs11-module", module, "--pkcs11-token", "server", "--pin-file", "pin"],
                                            passphrase: nil)
        #expect(second.status != 0 && second.stderr.contains("already holds a key labelled \"ca\""), "\(second.stderr)")

        // server issue signs with the CA key on the token, the PIN from the file.
        #expect(try workspace.sealdrop(["keygen", "--out", "carol", "--bits", "2048"]).status == 0)
        #expect(try workspace.sealdrop(["request", "--key", "carol.key", "--user", "carol", "-o", "carol.csr"]).status == 0)
        let issued = try workspace.sealdrop(["server", "issue", "root", "carol.csr", "-o", "carol.crt", "--pin-file", "pin"], passphrase: nil)
        #expect(issued.status == 0, "\(issued.stderr)")
        #expect(try workspace.openssl(["verify", "-x509_strict", "-CAfile", "root/ca.crt", "carol.crt"]).status == 0)
    }

    @Test func aRootMovesItsKeyFilesOntoAToken() throws {
        var (workspace, module) = try Self.workspace(tokens: ["server"])
        defer { workspace.cleanup() }
        workspace.environment["SEALDROP_PIN"] = nil
        var daemon = try workspace.startServer(.directory, registering: ["bob"]).daemon
        try FileManager.default.copyItem(atPath: Self.images.appendingPathComponent("camera.png").path, toPath: workspace.path("camera.png"))
        #expect(try workspace.sealdrop(["post", "camera.png"], home: "bob").status == 0)
        daemon.stop()
        let fingerprint = try workspace.caFingerprint()

        workspace.environment["SEALDROP_PIN"] = "123456"
        let migrated = try workspace.sealdrop(["server", "migrate-keys-to-token", "root", "--pkcs11-module", module, "--pkcs11-token", "server"])
        #expect(migrated.status == 0, "\(migrated.stderr)")
        #expect(migrated.stdout.contains("moved the ca, encryption, delivery, tls keys"), "\(migrated.stdout)")
        for role in ["ca", "encryption", "delivery", "tls"] {
            #expect(!workspace.exists("root/\(role).key") && workspace.exists("root/\(role).pkcs11"), "\(role)")
        }
        let again = try workspace.sealdrop(["server", "migrate-keys-to-token", "root", "--pkcs11-module", module, "--pkcs11-token", "server"])
        #expect(again.status == 0 && again.stdout.contains("on the token already"), "\(again.stdout) \(again.stderr)")
        #expect(try workspace.caFingerprint() == fingerprint)

        // The same server, its keys now on the token and no passphrase given: what was
        // posted before is fetched, and new posts are taken.
        daemon = try workspace.start(["server", "watch", "root", "--rescan", "1"])
        defer { daemon.stop() }
        let fetched = try workspace.sealdrop(["fetch", "camera.png", "-o", "before.png"], home: "bob")
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: workspace.path("camera.png"), andPath: workspace.path("before.png")))
        try FileManager.default.copyItem(atPath: Self.images.appendingPathComponent("coffee.gif").path, toPath: workspace.path("coffee.gif"))
        let posted = try workspace.sealdrop(["post", "coffee.gif"], home: "bob")
        #expect(posted.status == 0 && posted.stdout.contains("accepted coffee.gif"), "\(posted.stdout) \(posted.stderr)")
        let status = try workspace.sealdrop(["server", "status", "root"])
        #expect(status.stdout.contains("encryption key on token \"server\" (sensitive, not extractable"), "\(status.stdout)")
    }

    /// The manual path: keys made by keygen on a token, a request, a certificate issued by
    /// hand, then seal and open with `--key BASE.key` naming the token key, and a profile
    /// imported from it.
    @Test func keygenOnATokenSealsOpensAndImports() throws {
        let (workspace, module) = try Self.workspace(tokens: ["alice", "bob"])
        defer { workspace.cleanup() }
        #expect(try workspace.sealdrop(["server", "init", "root", "--bits", "2048"]).status == 0)
        for user in ["alice", "bob"] {
            let made = try workspace.sealdrop(["keygen", "--out", user, "--bits", "2048", "--pkcs11-module", module, "--pkcs11-token", user],
                                              passphrase: nil)
            #expect(made.status == 0, "\(made.stderr)")
            #expect(made.stdout.contains("made the key on token \"\(user)\""), "\(made.stdout)")
            #expect(workspace.exists("\(user).pkcs11") && workspace.exists("\(user).pub") && !workspace.exists("\(user).key"))
            let requested = try workspace.sealdrop(["request", "--key", "\(user).key", "--user", user, "-o", "\(user).csr"], passphrase: nil)
            #expect(requested.status == 0, "\(requested.stderr)")
            #expect(try workspace.sealdrop(["server", "issue", "root", "\(user).csr", "-o", "\(user).crt"]).status == 0)
        }
        // keygen never replaces a key, on a token or not.
        let again = try workspace.sealdrop(["keygen", "--out", "alice", "--pkcs11-module", module, "--pkcs11-token", "alice"], passphrase: nil)
        #expect(again.status != 0 && again.stderr.contains("alice.pkcs11"), "\(again.stderr)")

        try FileManager.default.createDirectory(atPath: workspace.path("photos"), withIntermediateDirectories: true)
        for image in ["camera.png", "coffee.gif"] {
            try FileManager.default.copyItem(atPath: Self.images.appendingPathComponent(image).path, toPath: workspace.path("photos/\(image)"))
        }
        let sealed = try workspace.sealdrop(["seal", "photos", "--to", "bob.crt", "--key", "alice.key", "-o", "sealed", "--batch-sign"],
                                            passphrase: nil)
        #expect(sealed.status == 0, "\(sealed.stderr)")
        let opened = try workspace.sealdrop(["open", "sealed", "--key", "bob.key", "--ca", "root/ca.crt", "-o", "opened"], passphrase: nil)
        #expect(opened.status == 0, "\(opened.stderr)")
        for image in ["camera.png", "coffee.gif"] {
            #expect(FileManager.default.contentsEqual(atPath: workspace.path("photos/\(image)"), andPath: workspace.path("opened/\(image)")))
        }
        // alice's token cannot open what was sealed to bob.
        let wrongKey = try workspace.sealdrop(["open", "sealed/camera.png.seal", "--key", "alice.key", "--ca", "root/ca.crt", "-o", "no"],
                                              passphrase: nil)
        #expect(wrongKey.status != 0 && !workspace.exists("no/camera.png"))

        let fingerprint = try workspace.caFingerprint()
        let imported = try workspace.sealdrop(["profile", "import", "--key", "alice.key", "--cert", "alice.crt", "--server", "root",
                                               "--expect-fingerprint", fingerprint], home: "profile")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(workspace.exists("profile/alice.pkcs11") && !workspace.exists("profile/alice.key"))
        #expect(try workspace.read("profile/alice.pkcs11") == workspace.read("alice.pkcs11"))
    }

    /// Over HTTPS: the gateway's TLS key and alice's client key are token keys too.
    @Test func theGatewayAndItsClientsSignTLSOnTokens() throws {
        let (workspace, module) = try Self.workspace(tokens: ["server", "alice"])
        defer { workspace.cleanup() }
        #expect(try workspace.sealdrop(["server", "init", "root", "--bits", "2048", "--pkcs11-module", module, "--pkcs11-token", "server"],
                                       passphrase: nil).status == 0)
        let daemon = try workspace.start(["server", "serve", "root", "--listen", "127.0.0.1:0", "--rescan", "1"])
        defer { daemon.stop() }
        let line = try #require(daemon.waitForLines(1).first)
        try #require(line.hasPrefix("listening on https://127.0.0.1:"), "\(line)")
        let server = String(line.dropFirst("listening on ".count))
        let registered = try workspace.sealdrop(
            ["register", "--server", server, "--user", "alice", "--bits", "2048", "--expect-fingerprint", workspace.caFingerprint(),
             "--pkcs11-module", module, "--pkcs11-token", "alice"], home: "alice")
        #expect(registered.status == 0, "\(registered.stderr)")
        try FileManager.default.copyItem(atPath: Self.images.appendingPathComponent("camera.png").path, toPath: workspace.path("camera.png"))
        let posted = try workspace.sealdrop(["post", "camera.png"], home: "alice")
        #expect(posted.status == 0 && posted.stdout.contains("accepted camera.png"), "\(posted.stdout) \(posted.stderr)")
        let fetched = try workspace.sealdrop(["fetch", "camera.png", "-o", "got.png"], home: "alice")
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(FileManager.default.contentsEqual(atPath: workspace.path("camera.png"), andPath: workspace.path("got.png")))
        // openssl completes a TLS 1.3 handshake whose signature the token made.
        let hello = try workspace.https(server, "GET /v1/certificates/ca.crt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(hello.contains("BEGIN CERTIFICATE"), "\(hello)")
    }

    @Test func aTokenRootReplacesItsTLSKeyAndNamesAMissingKey() throws {
        let (workspace, module) = try Self.workspace(tokens: ["server"])
        defer { workspace.cleanup() }
        #expect(try workspace.sealdrop(["server", "init", "root", "--bits", "2048", "--pkcs11-module", module, "--pkcs11-token", "server"],
                                       passphrase: nil).status == 0)
        let oldReference = try workspace.read("root/tls.pkcs11")
        let oldCertificate = try workspace.read("root/tls.crt")
        let reissued = try workspace.sealdrop(["server", "tls-cert", "root", "--hostname", "127.0.0.1", "--bits", "2048"], passphrase: nil)
        #expect(reissued.status == 0, "\(reissued.stderr)")
        #expect(try workspace.read("root/tls.pkcs11") != oldReference && workspace.read("root/tls.crt") != oldCertificate)
        #expect(try workspace.read("root/tls.pkcs11").contains("object=tls;"))

        // The replaced key is gone from the token: its old URI finds nothing, and says so.
        try workspace.write(oldReference, to: "old.pkcs11")
        let gone = try workspace.sealdrop(["request", "--key", "old.key", "--user", "someone", "-o", "x.csr"], passphrase: nil)
        #expect(gone.status != 0)
        #expect(gone.stderr.contains("no key on the token matches " + oldReference.trimmingCharacters(in: .whitespacesAndNewlines)),
                "\(gone.stderr)")

        // A key file beside a reference: which one is meant is not guessed.
        try workspace.write("not a key", to: "root/ca.key")
        let both = try workspace.sealdrop(["server", "ingest", "root", "--once"], passphrase: nil)
        #expect(both.status != 0 && both.stderr.contains("ca.key and") && both.stderr.contains("ca.pkcs11 exist"), "\(both.stderr)")
    }
}
