import ArgumentParser
import Foundation
import GcryptKit
import SealEnvelope
import SealPKI

extension Sealdrop {
    struct Inspect: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "inspect",
            abstract: "Print an envelope's clear fields; no key is needed and nothing is verified.",
            discussion: """
                Examples:
                  sealdrop inspect cat.png.seal
                  cat cat.png.seal | sealdrop inspect - --json
                """)

        @Argument(help: "The envelope (binary or armour); - reads it from standard input.")
        var envelope: String

        @Flag(help: "Print JSON.")
        var json = false

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            var source = try StandardStreams.envelope(envelope)
            let layout = try about(source.path) { try EnvelopeReader.layout(of: &source) }
            let h = layout.header
            let fields: [(String, Any)] = [
                ("format", "sealdrop envelope v\(EnvelopeHeader.version)"),
                ("kind", h.kind.description),
                ("suite", h.suite.description),
                ("envelope_id", h.envelopeID.hexString),
                ("created", iso8601(h.createdDate)),
                ("name", h.name),
                ("media_type", h.mediaType),
                ("width", Int(h.width)),
                ("height", Int(h.height)),
                ("sender", h.senderCertificate.subject.commonName ?? h.senderCertificate.subject.description),
                ("sender_issuer", h.senderCertificate.issuer.description),
                ("sender_certificate", h.senderCertificate.fingerprint.description),
                ("recipient_key", Fingerprint(digest: try SHA256Digest(bytes: h.recipient)).description),
                ("key_mode", h.keyMode.description),
                ("key_commitment", h.keyCommitment.hexString),
                ("wrapped_key_bytes", h.wrappedKey.count),
                ("chunk_size", h.chunkSize),
                ("chunks", layout.chunkCount),
                ("payload_bytes", Int(layout.payloadLength)),
                ("signature", layout.signatureType == 1 ? "rsa-pss-sha256" : "rsa-pss-sha256 over a batch's Merkle root"),
                ("signature_bytes", layout.signatureLength),
                ("file_bytes", source.size),
            ]
            if json {
                printJSON(Dictionary(uniqueKeysWithValues: fields))
            } else {
                print("envelope \(source.path)")
                for (label, value) in fields {
                    print("  \(label.padding(toLength: 20, withPad: " ", startingAt: 0))\(value)")
                }
            }
        }
    }
}
