import Foundation
import GcryptKit
import SealClient
import SealEnvelope
import SealPKI
import Testing
@testable import DropProtocol
@testable import SealServer

/// A folder posted with one batch key (FORMAT.md §5.1): the server unwraps it once, and a
/// fetch answer for one image hands on that image's key only.
@Suite(.serialized) struct BatchIngestTests {
    static let images = ["coffee.gif", "chelsea.webp", "horse.png", "rocket.jpg", "camera.png"]

    @Test func theServerUnwrapsOncePerBatch() throws {
        let server = try TestServer()
        let batch = try BatchKey(recipient: RSARecipient(key: server.encryption.publicKey), sender: server.signers["alice"]!.certificate)
        for image in Self.images { try server.drop(image, as: "alice", batchKey: batch) }
        let ingester = try server.ingester()
        #expect(try ingester.runUntilEmpty().accepted == Self.images.count)
        #expect(ingester.identity.batchUnwraps == 1, "one RSA unwrap for the whole batch")
        // A second batch from bob: one more.
        let other = try BatchKey(recipient: RSARecipient(key: server.encryption.publicKey), sender: server.signers["bob"]!.certificate)
        for image in ["camera.tiff", "rocket.heic"] { try server.drop(image, as: "bob", batchKey: other) }
        #expect(try ingester.runUntilEmpty().accepted == 2)
        #expect(ingester.identity.batchUnwraps == 2)
        #expect(try Fsck(root: server.root).check().isEmpty)
    }

    @Test func aFetchAnswerOpensItsImageAndNoOther() throws {
        let server = try TestServer()
        let batch = try BatchKey(recipient: RSARecipient(key: server.encryption.publicKey), sender: server.signers["alice"]!.certificate)
        for image in ["coffee.gif", "horse.png"] { try server.drop(image, as: "alice", batchKey: batch) }
        _ = try server.ingester().runUntilEmpty()
        let (bob, passphrase) = try FetchTests().profile(server, "bob")
        let fetcher = try Fetcher(profile: bob, secret: passphrase)
        let id = try fetcher.request("coffee.gif")
        _ = try server.ingester().runUntilEmpty()
        let outbox = server.root.outbox(for: "bob")
        let answer = try JSONDecoder().decode(FetchAnswer.self, from: Data(contentsOf: URL(
            fileURLWithPath: FetchAnswer.statementPath(in: outbox, requestID: id))))
        let bobKey = try KeyFile.readPrivateKey(at: bob.keyPath, passphrase: passphrase)
        let key = try bobKey.decryptOAEP([UInt8](answer.wrappedKey), label: FetchAnswer.wrapLabel(statement: answer.statement))
        // The key bob was handed does not open alice's other image of the same batch.
        let other = try #require(try server.catalogue.image(named: "horse.png"))
        var source = try FileSource(path: BlobStore(directory: server.root.blobs).path(for: other.blob))
        let verified = try EnvelopeReader.verify(&source, recipient: server.encryption.publicKey.fingerprint.digest.bytes,
                                                 authority: try server.root.authorityCertificate())
        try source.rewind()
        var sink = DiscardingSink()
        #expect(throws: EnvelopeError.tampered) { try EnvelopeReader.decrypt(verified, from: &source, to: &sink, contentKey: key) }
        #expect(sink.count == 0)
        // And the answer itself delivers coffee.gif, byte for byte.
        let output = FileManager.default.temporaryDirectory.appendingPathComponent("batch-\(UUID().uuidString).gif").path
        defer { try? FileManager.default.removeItem(atPath: output) }
        _ = try fetcher.receive(id, image: "coffee.gif", to: output, timeout: 5)
        #expect(FileManager.default.contentsEqual(atPath: output, andPath: fixturesDirectory.appendingPathComponent("images/coffee.gif").path))
    }
}
