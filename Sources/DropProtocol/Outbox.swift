import Foundation
import GcryptKit
import SealPKI

/// The files the server leaves for a user in `outbox/USER/` (docs/SERVER.md, "Who writes
/// what"), named so a client finds the answer to its own drop.
public enum Outbox {
    /// The KEY part of registration answers: the first 16 hex digits of the requesting key's fingerprint.
    public static func answerName(for key: RSA.PublicKey) -> String {
        String(key.fingerprint.digest.hex.prefix(16))
    }

    /// The certificate issued (or renewed) for a key.
    public static func certificate(answer: String) -> String { "certificate-\(answer).crt" }
    /// Why a registration for a key was refused.
    public static func registrationRefusal(answer: String) -> String { "registration-\(answer).rejected.json" }
    /// Why a drop was refused: named by its envelope id (hex), or by its work id when no
    /// envelope id could be read.
    public static func refusal(id: String) -> String { "rejected-\(id).json" }
    /// That an image was accepted: named by its envelope id (hex), written after the commit.
    public static func acceptance(id: String) -> String { "accepted-\(id).json" }
    /// That envelopes of one bundle drop (FORMAT.md §13) were accepted: one note for all
    /// those of the owner, named by the server's claim id, listing them (BundleAcceptance).
    public static func bundleAcceptance(claim: String) -> String { bundleAcceptancePrefix + "\(claim).json" }
    public static let bundleAcceptancePrefix = "accepted-bundle-"
    /// A fetch answer: the signed statement (written last) and the owner's envelope.
    public static func answerStatement(requestID: String) -> String { "answer-\(requestID).json" }
    public static func answerEnvelope(requestID: String) -> String { "answer-\(requestID).seal" }
}

/// The note `accepted-bundle-ID.json`: the envelopes of one bundle drop the server accepted
/// for their owner.
public struct BundleAcceptance: Codable, Sendable, Equatable {
    public struct Envelope: Codable, Sendable, Equatable {
        public let name: String
        public let envelopeID: String

        public init(name: String, envelopeID: String) {
            self.name = name
            self.envelopeID = envelopeID
        }

        enum CodingKeys: String, CodingKey {
            case name
            case envelopeID = "envelope_id"
        }
    }

    public let envelopes: [Envelope]

    public init(envelopes: [Envelope]) { self.envelopes = envelopes }

    /// A bundle holds at most 1,024 envelopes: a note is well under this.
    public static let maximumBytes = 1 << 20
}

/// What the server said to a registration: the certificate (PEM), or why not.
public enum RegistrationAnswer: Sendable, Equatable {
    case pending
    case issued(String)
    case refused(String)
}

extension ServerRoot {
    /// The answer to the registration of key `answer` (Outbox.answerName) for `user`, as
    /// the outbox holds it; a refusal's reason as the server wrote it (escape it to print).
    public func registrationAnswer(user: String, answer: String) throws -> RegistrationAnswer {
        let directory = outbox(for: user)
        if let pem = try KeyFile.readBytesIfPresent("\(directory)/" + Outbox.certificate(answer: answer), limit: 64 << 10,
                                                    followSymlinks: false) {
            return .issued(String(decoding: pem, as: UTF8.self))
        }
        if let json = try KeyFile.readBytesIfPresent("\(directory)/" + Outbox.registrationRefusal(answer: answer), limit: 64 << 10,
                                                     followSymlinks: false) {
            return .refused(Refusal.reason(in: json))
        }
        return .pending
    }
}

extension UInt8 {
    /// A lowercase hex digit, as the server writes hashes and ids.
    public var isLowercaseHex: Bool { (0x30...0x39).contains(self) || (0x61...0x66).contains(self) }
}

/// A refusal file the server wrote in an outbox: `{"reason": ...}` among other fields.
public enum Refusal {
    /// The reason, as the server wrote it (escape it before printing).
    public static func reason(in json: [UInt8]) -> String {
        struct Body: Decodable { let reason: String }
        return (try? JSONDecoder().decode(Body.self, from: Data(json)))?.reason ?? "no reason given"
    }
}

/// A certificate renewal request's payload (a message envelope signed with the current
/// certificate): the user whose certificate is renewed, for the same key.
public struct RenewalRequest: Codable, Sendable {
    public static let mediaType = "application/vnd.sealdrop.renew+json"
    public static let envelopeName = "certificate-renewal"

    public let user: String

    public init(user: String) { self.user = user }
}
