/// The few ways a cryptographic operation can fail.
///
/// Authentication failures carry no detail on purpose: callers must not be able to tell
/// which check failed (no padding or MAC oracle).
public enum CryptoError: Error, Equatable, Sendable {
    /// A MAC, tag, padding or decryption check failed.
    case authenticationFailure
    /// Key material is malformed or outside what sealdrop accepts.
    case invalidKey(String)
    /// An argument is outside the range the primitive accepts.
    case invalidParameter(String)
    /// libgcrypt reported an error; `call` names the C function.
    case library(call: String, code: UInt32, message: String)
}

extension CryptoError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .authenticationFailure: "authentication failed"
        case .invalidKey(let why): "invalid key: \(why)"
        case .invalidParameter(let why): "invalid parameter: \(why)"
        case .library(let call, let code, let message): "\(call) failed (\(code)): \(message)"
        }
    }
}
