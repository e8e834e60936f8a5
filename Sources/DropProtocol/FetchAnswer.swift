import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

/// A fetch request's payload: the image wanted (JSON, inside a message envelope).
public struct FetchRequest: Codable, Sendable {
    public static let mediaType = "application/vnd.sealdrop.fetch+json"
    public static let envelopeName = "fetch-request"
    public static let maximumBytes = 4096

    public let image: String

    public init(image: String) { self.image = image }
}

/// What the server states when it answers a fetch, signed with its delivery key.
public struct DeliveryStatement: Codable, Sendable, Equatable {
    public let requestID: String
    public let requester: String
    public let requesterKey: String
    public let image: String
    public let owner: String?
    /// SHA-256 of the owner's envelope delivered beside the statement.
    public let blob: String?
    /// Set instead of owner and blob when the request cannot be served.
    public let error: String?
    public let time: String

    public init(requestID: String, requester: String, requesterKey: String, image: String, owner: String?, blob: String?,
                error: String?, time: String) {
        self.requestID = requestID
        self.requester = requester
        self.requesterKey = requesterKey
        self.image = image
        self.owner = owner
        self.blob = blob
        self.error = error
        self.time = time
    }

    enum CodingKeys: String, CodingKey {
        case image, owner, blob, error, time, requester
        case requestID = "request_id"
        case requesterKey = "requester_key"
    }
}

/// A fetch answer in `outbox/REQUESTER/`: `answer-ID.seal` (the owner's envelope, untouched,
/// written first) and `answer-ID.json` (the signed statement and the content key re-wrapped
/// for the requester, written last, so its presence means the answer is complete).
///
/// The signature covers SHA256("sealdrop-v1 delivery" || statement || wrapped key ||
/// delivery certificate); the re-wrapped key's OAEP label is SHA256("sealdrop-v1 answer" ||
/// statement), binding the key to this requester, request and image.
public struct FetchAnswer: Codable, Sendable {
    public let statement: Data
    public let wrappedKey: Data
    public let deliveryCertificate: Data
    public let signature: Data

    enum CodingKeys: String, CodingKey {
        case statement, signature
        case wrappedKey = "wrapped_key"
        case deliveryCertificate = "delivery_certificate"
    }

    /// The largest answer file a client reads: a statement, a wrapped key, a certificate and
    /// a signature, base64 in JSON, are a few kilobytes.
    public static let maximumBytes = 64 << 10

    public static func statementPath(in outbox: String, requestID: String) -> String {
        "\(outbox)/" + Outbox.answerStatement(requestID: requestID)
    }
    public static func envelopePath(in outbox: String, requestID: String) -> String {
        "\(outbox)/" + Outbox.answerEnvelope(requestID: requestID)
    }

    package static func signedDigest(statement: Data, wrappedKey: Data, certificate: Data) -> SHA256Digest {
        var hasher = SHA256()
        hasher.update(data: Array("sealdrop-v1 delivery".utf8))
        for part in [statement, wrappedKey, certificate] {
            hasher.update(data: UInt32(part.count).bigEndianBytes)
            hasher.update(data: part)
        }
        return hasher.finalize()
    }

    public static func wrapLabel(statement: Data) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array("sealdrop-v1 answer".utf8))
        hasher.update(data: statement)
        return hasher.finalize().bytes
    }

    /// Builds and signs an answer.
    package static func make(statement: DeliveryStatement, contentKey: SecretBytes?, for requester: RSA.PublicKey,
                     signer: RSASigner) throws -> FetchAnswer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let statementBytes = try encoder.encode(statement)
        let wrapped = try contentKey.map { Data(try requester.encryptOAEP($0, label: wrapLabel(statement: statementBytes))) } ?? Data()
        let certificate = Data(signer.certificate.der)
        let signature = try signer.sign(signedDigest(statement: statementBytes, wrappedKey: wrapped, certificate: certificate))
        return FetchAnswer(statement: statementBytes, wrappedKey: wrapped, deliveryCertificate: certificate, signature: Data(signature))
    }

    /// Checks the delivery certificate against `authority` and the signature, and returns
    /// the statement. Throws `EnvelopeError.tampered` on any failure of the signature.
    /// With `pinned`, the delivery certificate must be exactly that one (pinned at registration).
    public func verifiedStatement(authority: Certificate, pinned: Certificate? = nil) throws -> DeliveryStatement {
        let certificate = try Certificate(der: [UInt8](deliveryCertificate))
        try certificate.verify(issuedBy: authority, role: .delivery)
        if let pinned, pinned != certificate { throw PKIError.certificateRejected("the answer is signed by another delivery key than the one pinned") }
        let digest = Self.signedDigest(statement: statement, wrappedKey: wrappedKey, certificate: deliveryCertificate)
        guard certificate.publicKey.isValidPSSSignature([UInt8](signature), for: digest) else { throw EnvelopeError.tampered }
        return try JSONDecoder().decode(DeliveryStatement.self, from: statement)
    }
}
