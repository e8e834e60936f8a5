/// Why an envelope could not be sealed or opened.
///
/// Every failure of authentication — a tag, the padding behind it, the key unwrap, the key
/// commitment, the signature — is the one case `.tampered`: the reader never says which byte
/// or check failed (FORMAT.md §4, §5).
public enum EnvelopeError: Error, Equatable, Sendable {
    /// Not an envelope at all (wrong magic) or cut off inside the header.
    case notAnEnvelope
    case unsupportedVersion(UInt8)
    /// A field breaks a MUST-reject rule of FORMAT.md; the text names the rule.
    case malformed(String)
    /// Authentication failed somewhere; deliberately unspecific.
    case tampered
    /// The stream ended before its final chunk or trailer.
    case truncated
    /// Bytes follow the trailer.
    case trailingData
    /// Addressed to another key; carries the recipient fingerprint from the header.
    case notForThisKey(recipient: String)
    /// The sender's certificate did not verify against the trusted CA.
    case untrustedSender(String)
    /// The input is not an image sealdrop recognises.
    case unrecognisedMedia
    /// Sealing only: the name given (or the file's own name) breaks the §2 name rules.
    case unusableName(name: String, reason: String)
}

extension EnvelopeError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notAnEnvelope: "not a sealdrop envelope"
        case .unsupportedVersion(let v): "envelope version \(v) is not supported (this sealdrop reads version 1)"
        case .malformed(let why): "malformed envelope: \(why)"
        case .tampered: "envelope is corrupted or was tampered with"
        case .truncated: "envelope is truncated"
        case .trailingData: "envelope has data after its end"
        case .notForThisKey(let recipient): "envelope is addressed to another key (\(recipient))"
        case .untrustedSender(let why): "sender not trusted: \(why)"
        case .unrecognisedMedia: "not a recognised image (JPEG, PNG, GIF, WebP, TIFF, HEIC or AVIF)"
        case .unusableName(let name, let reason): "\"\(name)\" cannot be an image name: \(reason)"
        }
    }
}
