import Foundation
import GcryptKit
import SwiftASN1

/// The decoded TBSCertificate fields.
struct TBSFields {
    var serialNumber: [UInt8]
    var signature: AlgorithmIdentifier
    var issuer: DistinguishedName
    var notBefore: Date
    var notAfter: Date
    var subject: DistinguishedName
    var publicKey: RSA.PublicKey
    var extensions: Extensions
}

/// Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
struct CertificateDER: DERParseable {
    let certificate: Certificate

    init(derEncoded node: ASN1Node) throws {
        let (fields, signed, outerAlgorithm) = try SignedData.parse(node, TBSFields.init(derEncoded:))
        // RFC 5280 4.1.1.2: the two algorithm fields MUST match.
        guard outerAlgorithm == fields.signature else {
            throw PKIError.malformed("certificate: signature algorithm fields differ")
        }
        certificate = Certificate(
            der: Array(node.encodedBytes), tbs: signed.tbs, fields: fields,
            signatureAlgorithm: signed.algorithm, signature: signed.signature)
    }
}

extension TBSFields {
    init(derEncoded node: ASN1Node) throws {
        self = try DER.sequence(node, identifier: .sequence) { nodes in
            let version = try DER.explicitlyTagged(&nodes, tagNumber: 0, tagClass: .contextSpecific) { try Int(derEncoded: $0) }
            guard version == 2 else { throw PKIError.unsupportedAlgorithm("X.509 version field \(version) (only 2, for v3)") }
            let serial = try ArraySlice<UInt8>(derEncoded: &nodes)
            let signature = try AlgorithmIdentifier(derEncoded: &nodes)
            let issuer = try DistinguishedName(derEncoded: &nodes)
            let (notBefore, notAfter) = try DER.sequence(of: ASN1Node.self, identifier: .sequence, nodes: &nodes)
                .validityPair()
            let subject = try DistinguishedName(derEncoded: &nodes)
            let spki = try SubjectPublicKeyInfo(derEncoded: &nodes)
            var extensions = Extensions()
            while let next = nodes.next() {
                // [1] and [2] unique identifiers are skipped; [3] holds the extensions.
                if next.identifier == ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific) {
                    extensions = try DER.explicitlyTagged(next, tagNumber: 3, tagClass: .contextSpecific) {
                        try Extensions(derEncoded: $0)
                    }
                }
            }
            return TBSFields(
                serialNumber: Array(serial), signature: signature, issuer: issuer, notBefore: notBefore,
                notAfter: notAfter, subject: subject, publicKey: spki.key, extensions: extensions)
        }
    }

    func serialize() throws -> [UInt8] {
        try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(2, explicitlyTaggedWithTagNumber: 0, tagClass: .contextSpecific)
                try coder.serialize(ArraySlice(serialNumber))
                try coder.serialize(signature)
                try coder.serialize(issuer)
                try coder.appendConstructedNode(identifier: .sequence) { coder in
                    try X509Time.serialize(notBefore, into: &coder)
                    try X509Time.serialize(notAfter, into: &coder)
                }
                try coder.serialize(subject)
                try coder.serialize(SubjectPublicKeyInfo(key: publicKey))
                try coder.appendConstructedNode(identifier: ASN1Identifier(tagWithNumber: 3, tagClass: .contextSpecific)) { coder in
                    try extensions.serialize(into: &coder, subjectKey: publicKey)
                }
            }
        }
    }
}

extension Array where Element == ASN1Node {
    func validityPair() throws -> (Date, Date) {
        guard count == 2 else { throw PKIError.malformed("certificate validity") }
        return (try X509Time.parse(self[0]), try X509Time.parse(self[1]))
    }
}

extension ASN1Node: @retroactive DERParseable {
    public init(derEncoded node: ASN1Node) throws {
        self = node
    }
}

/// Time ::= CHOICE { utcTime, generalTime } (RFC 5280 4.1.2.5): UTCTime through 2049.
enum X509Time {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func parse(_ node: ASN1Node) throws -> Date {
        let parts: DateComponents
        switch node.identifier {
        case UTCTime.defaultIdentifier:
            let t = try UTCTime(derEncoded: node)
            parts = DateComponents(year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds)
        case GeneralizedTime.defaultIdentifier:
            let t = try GeneralizedTime(derEncoded: node)
            parts = DateComponents(year: t.year, month: t.month, day: t.day, hour: t.hours, minute: t.minutes, second: t.seconds)
        default:
            throw PKIError.malformed("certificate time")
        }
        guard let date = calendar.date(from: parts) else { throw PKIError.malformed("certificate time") }
        return date
    }

    static func serialize(_ date: Date, into coder: inout DER.Serializer) throws {
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let (year, month, day, hour, minute, second) = (c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
        if (1950...2049).contains(year) {
            try coder.serialize(UTCTime(year: year, month: month, day: day, hours: hour, minutes: minute, seconds: second))
        } else {
            try coder.serialize(GeneralizedTime(
                year: year, month: month, day: day, hours: hour, minutes: minute, seconds: second, fractionalSeconds: 0))
        }
    }
}
