import Foundation
import GcryptKit
import SealEnvelope
import SealPKI
import Testing
@testable import SealClient
@testable import DropProtocol
@testable import SealServer

/// Fetching through the drop: the requester gets the owner's bytes, verified, and nothing else.
@Suite(.serialized) struct FetchTests {
    /// A client profile for `user` of `server`, written the way `register` writes one.
    func profile(_ server: TestServer, _ user: String) throws -> (Profile, SecretBytes) {
        let home = server.url.appendingPathComponent("home-\(user)").path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let passphrase = SecretBytes(Array("client pass".utf8))
        let profile = Profile(home: home, settings: .init(server: server.root.path, user: user,
                                                          caFingerprint: server.authority.certificate.fingerprint.description))
        try KeyFile.write(TestServer.keys[user]!, base: "\(home)/\(user)", passphrase: passphrase)
        try AtomicFile.write(server.signers[user]!.certificate.pem, to: profile.certificatePath, replace: true)
        try AtomicFile.write(server.authority.certificate.pem, to: profile.caPath, replace: true)
        try AtomicFile.write(server.encryption.pem, to: profile.encryptionPath, replace: true)
        try AtomicFile.write(Array(try JSONEncoder().encode(profile.settings)), to: "\(home)/profile.json", replace: true)
        return (profile, passphrase)
    }

    /// alice posts; bob requests; the server answers. Returns bob's fetcher, the request id and
    /// the answer's two paths.
    func answered(_ server: TestServer, image: String = "horse.png") throws -> (Fetcher, String, String, String) {
        try server.drop(image, as: "alice")
        _ = try server.ingester().runUntilEmpty()
        let (bob, passphrase) = try profile(server, "bob")
        let fetcher = try Fetcher(profile: bob, secret: passphrase)
        let id = try fetcher.request(image)
        #expect(try server.ingester().runUntilEmpty().answered == 1)
        let outbox = server.root.outbox(for: "bob")
        return (fetcher, id, FetchAnswer.statementPath(in: outbox, requestID: id), FetchAnswer.envelopePath(in: outbox, requestID: id))
    }

    @Test func bobGetsAlicesExactBytesAndTheServerHoldsNoPlaintext() throws {
        let server = try TestServer()
        let (fetcher, id, _, _) = try answered(server, image: "rocket.jpg")
        // Outside the server root, which is searched below.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("fetched-\(UUID().uuidString).jpg").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let delivered = try fetcher.receive(id, image: "rocket.jpg", to: output, timeout: 5)
        #expect(delivered.owner == "alice")
        let original = try Data(contentsOf: fixturesDirectory.appendingPathComponent("images/rocket.jpg"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == original)
        // The collected answer is gone; no file under the root holds a run of the image.
        #expect(try FileManager.default.contentsOfDirectory(atPath: server.root.outbox(for: "bob")).isEmpty)
        let probe = original[5000..<5064]
        for file in FileManager.default.enumerator(atPath: server.root.path)!.compactMap({ $0 as? String }) {
            guard let data = FileManager.default.contents(atPath: server.root.path + "/" + file) else { continue }
            #expect(data.range(of: probe) == nil, "\(file) holds plaintext")
        }
    }

    /// Every bit of the signed answer, and bits throughout the owner's envelope copy.
    @Test func everyTamperingOfTheAnswerIsRefused() throws {
        let server = try TestServer()
        let (fetcher, id, statementPath, envelopePath) = try answered(server)
        let output = server.url.appendingPathComponent("out.png").path
        let answer = try JSONDecoder().decode(FetchAnswer.self, from: Data(contentsOf: URL(fileURLWithPath: statementPath)))
        let envelope = try Data(contentsOf: URL(fileURLWithPath: envelopePath))
        let badStatement = server.url.appendingPathComponent("bad.json").path
        let badEnvelope = server.url.appendingPathComponent("bad.seal").path
        func refused(_ a: FetchAnswer, _ e: Data) throws -> Bool {
            try JSONEncoder().encode(a).write(to: URL(fileURLWithPath: badStatement))
            try e.write(to: URL(fileURLWithPath: badEnvelope))
            let opened = (try? fetcher.open(answerAt: badStatement, envelope: badEnvelope, requestID: id, image: "horse.png", to: output)) != nil
            return !opened && !FileManager.default.fileExists(atPath: output)
        }
        func flipped(_ data: Data, _ bit: Int) -> Data {
            var copy = data
            copy[bit / 8] ^= 1 << (bit % 8)
            return copy
        }
        for bit in 0..<(answer.statement.count * 8) {
            #expect(try refused(FetchAnswer(statement: flipped(answer.statement, bit), wrappedKey: answer.wrappedKey,
                                            deliveryCertificate: answer.deliveryCertificate, signature: answer.signature), envelope), "statement bit \(bit)")
        }
        for bit in 0..<(answer.wrappedKey.count * 8) {
            #expect(try refused(FetchAnswer(statement: answer.statement, wrappedKey: flipped(answer.wrappedKey, bit),
                                            deliveryCertificate: answer.deliveryCertificate, signature: answer.signature), envelope), "key bit \(bit)")
        }
        for bit in 0..<(answer.signature.count * 8) {
            #expect(try refused(FetchAnswer(statement: answer.statement, wrappedKey: answer.wrappedKey,
                                            deliveryCertificate: answer.deliveryCertificate, signature: flipped(answer.signature, bit)), envelope), "signature bit \(bit)")
        }
        for bit in stride(from: 0, to: answer.deliveryCertificate.count * 8, by: 7) {
            #expect(try refused(FetchAnswer(statement: answer.statement, wrappedKey: answer.wrappedKey,
                                            deliveryCertificate: flipped(answer.deliveryCertificate, bit), signature: answer.signature), envelope), "certificate bit \(bit)")
        }
        for bit in stride(from: 0, to: envelope.count * 8, by: 97) {
            #expect(try refused(answer, flipped(envelope, bit)), "envelope bit \(bit)")
        }
        // Untouched, it opens.
        #expect(try fetcher.open(answerAt: statementPath, envelope: envelopePath, requestID: id, image: "horse.png", to: output).owner == "alice")
    }

    /// A statement signed by a key the CA never certified, an answer meant for someone else,
    /// and an owner certificate from another CA are all refused.
    @Test func forgedStatementsAndForeignAnswersAreRefused() throws {
        let server = try TestServer()
        let (fetcher, id, statementPath, envelopePath) = try answered(server)
        let output = server.url.appendingPathComponent("out.png").path
        let answer = try JSONDecoder().decode(FetchAnswer.self, from: Data(contentsOf: URL(fileURLWithPath: statementPath)))
        let statement = try JSONDecoder().decode(DeliveryStatement.self, from: answer.statement)
        let contentKey = try EnvelopeReader.contentKey(of: EnvelopeFiles.peekHeader(envelopePath),
                                                       identity: RSAIdentity(key: KeyFile.readPrivateKey(at: server.root.encryptionKeyPath, passphrase: serverPassphrase)))
        let bobKey = TestServer.keys["bob"]!.publicKey
        func attempt(_ forged: FetchAnswer) throws -> Error? {
            let path = server.url.appendingPathComponent("forged.json").path
            try JSONEncoder().encode(forged).write(to: URL(fileURLWithPath: path))
            do {
                _ = try fetcher.open(answerAt: path, envelope: envelopePath, requestID: id, image: "horse.png", to: output)
                return nil
            } catch { return error }
        }
        // 1. A delivery certificate from a stranger CA, with a valid signature under it.
        let strangerCA = try CertificateAuthority.create(key: TestServer.keys["alice"]!)
        let strangerKey = TestServer.keys["alice"]!
        let stranger = try RSASigner(key: strangerKey, certificate: strangerCA.issue(commonName: CertificateAuthority.Profile.delivery.serverCommonName!, publicKey: strangerKey.publicKey, profile: .delivery))
        #expect(try attempt(FetchAnswer.make(statement: statement, contentKey: contentKey, for: bobKey, signer: stranger)) != nil)
        // 2. alice's genuine certificate (from our CA) is not a delivery certificate.
        #expect(try attempt(FetchAnswer.make(statement: statement, contentKey: contentKey, for: bobKey, signer: server.signers["alice"]!)) != nil)
        // 3. A genuine answer made for alice, copied to bob: he cannot unwrap it, and is told why.
        let delivery = try RSASigner(key: KeyFile.readPrivateKey(at: server.root.deliveryKeyPath, passphrase: serverPassphrase),
                                     certificate: Certificate(pem: KeyFile.readText(server.root.deliveryCertificatePath)))
        let forAlice = DeliveryStatement(requestID: id, requester: "alice", requesterKey: TestServer.keys["alice"]!.publicKey.fingerprint.description,
                                         image: "horse.png", owner: "alice", blob: statement.blob, error: nil, time: statement.time)
        let copied = try attempt(FetchAnswer.make(statement: forAlice, contentKey: contentKey, for: TestServer.keys["alice"]!.publicKey, signer: delivery))
        #expect(copied as? Fetcher.Failure == .notForMe("it answers alice, for another key"))
        // 4. The genuine answer still opens.
        #expect(try attempt(answer) == nil)
        #expect(!FileManager.default.fileExists(atPath: server.url.appendingPathComponent("never.png").path))
    }

    @Test func unknownNamesRevokedOwnersAndReplays() throws {
        let server = try TestServer()
        let (fetcher, _, _, _) = try answered(server)
        let missing = try fetcher.request("nothing.png")
        _ = try server.ingester().runUntilEmpty()
        #expect(throws: Fetcher.Failure.refused("no image named \"nothing.png\"")) {
            try fetcher.receive(missing, image: "nothing.png", to: server.url.appendingPathComponent("n").path, timeout: 5)
        }
        try server.catalogue.revoke(name: "alice")
        let revoked = try fetcher.request("horse.png")
        // The same request file dropped twice is answered once; the copy is a replay.
        let requestFile = try #require(try server.inbox().first)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(server.root.inboxNew)/\(requestFile)")))
        _ = try server.ingester().runUntilEmpty()
        let copy = try server.dropRaw(bytes)
        let report = try server.ingester().runUntilEmpty()
        #expect(report.answered == 0 && report.quarantined == 1)
        #expect(try server.quarantineReasons()[copy]?.hasPrefix("replay") == true)
        #expect(throws: Fetcher.Failure.refused("the owner of \"horse.png\" (alice) is revoked")) {
            try fetcher.receive(revoked, image: "horse.png", to: server.url.appendingPathComponent("r").path, timeout: 5)
        }
        #expect(throws: Fetcher.Failure.timedOut("late.png", 0.2)) {
            try fetcher.receive("00", image: "late.png", to: server.url.appendingPathComponent("l").path, timeout: 0.2)
        }
    }
}
