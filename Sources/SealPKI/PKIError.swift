/// Why a key, certificate or request was refused. Each case reads as a sentence a user
/// can act on; the CLI adds the file name and a hint.
public enum PKIError: Error, Equatable, Sendable {
    case notPEM(expected: String)
    case wrongPEMType(expected: String, found: String)
    case malformed(String)
    case unsupportedAlgorithm(String)
    case unencryptedPrivateKey
    case wrongPassphrase
    case rejectedKey(String)
    case invalidName(String)
    case badSignature(String)
    case certificateRejected(String)
}

extension PKIError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .notPEM(let expected): "not a PEM file (expected \(expected))"
        case .wrongPEMType(let expected, let found): "PEM block is \(found), expected \(expected)"
        case .malformed(let what): "malformed \(what)"
        case .unsupportedAlgorithm(let what): "unsupported algorithm: \(what)"
        case .unencryptedPrivateKey: "private key is not encrypted; sealdrop refuses keys stored in the clear"
        case .wrongPassphrase: "wrong passphrase for this key (or the key file is damaged)"
        case .rejectedKey(let why): "key refused: \(why)"
        case .invalidName(let why): "invalid name: \(why)"
        case .badSignature(let what): "bad signature on \(what)"
        case .certificateRejected(let why): "certificate rejected: \(why)"
        }
    }
}
