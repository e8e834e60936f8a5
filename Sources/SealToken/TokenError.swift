import CPKCS11

/// What goes wrong with a token, in words an operator can act on.
public enum TokenError: Error, Equatable, Sendable, CustomStringConvertible {
    case badURI(String, String)
    case moduleNotLoaded(path: String, reason: String)
    case tokenNotFound(label: String, module: String, present: [String])
    case wrongPIN(token: String, triesLeft: String?)
    case pinLocked(token: String)
    case mechanismUnsupported(token: String, mechanism: String, purpose: String)
    case keyNotFound(String)
    case keyAmbiguous(String, count: Int)
    case keyExists(token: String, label: String)
    /// Any other return value of a PKCS#11 function.
    case call(function: String, result: String, token: String?)

    public var description: String {
        switch self {
        case .badURI(let uri, let why): "\(uri): not a usable PKCS#11 URI: \(why)"
        case .moduleNotLoaded(let path, let reason): "\(path): cannot load the PKCS#11 module: \(reason)"
        case .tokenNotFound(let label, let module, let present):
            "no token labelled \"\(label)\" in \(module)"
                + (present.isEmpty ? " (no token is present)" : " (present: \(present.map { "\"\($0)\"" }.joined(separator: ", ")))")
        case .wrongPIN(let token, let triesLeft): "wrong PIN for token \"\(token)\"" + (triesLeft.map { ": \($0)" } ?? "")
        case .pinLocked(let token): "the PIN of token \"\(token)\" is locked after too many wrong tries"
        case .mechanismUnsupported(let token, let mechanism, let purpose):
            "token \"\(token)\" does not support \(mechanism), which sealdrop needs for \(purpose)"
        case .keyNotFound(let uri): "no key on the token matches \(uri)"
        case .keyAmbiguous(let uri, let count): "\(count) keys on the token match \(uri)"
        case .keyExists(let token, let label): "token \"\(token)\" already holds a key labelled \"\(label)\""
        case .call(let function, let result, let token): "\(function) failed with \(result)" + (token.map { " on token \"\($0)\"" } ?? "")
        }
    }

    /// What to do about it, when there is something to say.
    public var hint: String? {
        switch self {
        case .badURI: "write it as pkcs11:token=LABEL;object=NAME?module-path=/path/to/module.so (RFC 7512)"
        case .moduleNotLoaded: "give the path of the token's PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so"
        case .tokenNotFound: "check the token label (softhsm2-util --show-slots, or the vendor's tool) and that the token is plugged in"
        case .wrongPIN: "give the user PIN with --pin-file FILE or SEALDROP_PIN"
        case .pinLocked: "unlock it with the security officer PIN (the token vendor's tool), then try again"
        case .mechanismUnsupported: "use a token that offers it, or keep this key in a file"
        case .keyNotFound: "list the token's objects (p11tool --list-all, pkcs11-tool -O) and check the URI"
        case .keyAmbiguous: "add id= to the URI to name one key"
        case .keyExists: "remove it from the token first, or use another token"
        case .call: nil
        }
    }

    static let names: [CK_RV: String] = [
        CK_RV(CKR_CANCEL): "CKR_CANCEL", CK_RV(CKR_HOST_MEMORY): "CKR_HOST_MEMORY",
        CK_RV(CKR_SLOT_ID_INVALID): "CKR_SLOT_ID_INVALID", CK_RV(CKR_GENERAL_ERROR): "CKR_GENERAL_ERROR",
        CK_RV(CKR_FUNCTION_FAILED): "CKR_FUNCTION_FAILED", CK_RV(CKR_ARGUMENTS_BAD): "CKR_ARGUMENTS_BAD",
        CK_RV(CKR_ATTRIBUTE_READ_ONLY): "CKR_ATTRIBUTE_READ_ONLY", CK_RV(CKR_ATTRIBUTE_SENSITIVE): "CKR_ATTRIBUTE_SENSITIVE",
        CK_RV(CKR_ATTRIBUTE_TYPE_INVALID): "CKR_ATTRIBUTE_TYPE_INVALID", CK_RV(CKR_ATTRIBUTE_VALUE_INVALID): "CKR_ATTRIBUTE_VALUE_INVALID",
        CK_RV(CKR_DATA_INVALID): "CKR_DATA_INVALID", CK_RV(CKR_DATA_LEN_RANGE): "CKR_DATA_LEN_RANGE",
        CK_RV(CKR_DEVICE_ERROR): "CKR_DEVICE_ERROR", CK_RV(CKR_DEVICE_MEMORY): "CKR_DEVICE_MEMORY",
        CK_RV(CKR_DEVICE_REMOVED): "CKR_DEVICE_REMOVED", CK_RV(CKR_ENCRYPTED_DATA_INVALID): "CKR_ENCRYPTED_DATA_INVALID",
        CK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE): "CKR_ENCRYPTED_DATA_LEN_RANGE", CK_RV(CKR_FUNCTION_NOT_SUPPORTED): "CKR_FUNCTION_NOT_SUPPORTED",
        CK_RV(CKR_KEY_HANDLE_INVALID): "CKR_KEY_HANDLE_INVALID", CK_RV(CKR_KEY_SIZE_RANGE): "CKR_KEY_SIZE_RANGE",
        CK_RV(CKR_KEY_TYPE_INCONSISTENT): "CKR_KEY_TYPE_INCONSISTENT", CK_RV(CKR_KEY_FUNCTION_NOT_PERMITTED): "CKR_KEY_FUNCTION_NOT_PERMITTED",
        CK_RV(CKR_MECHANISM_INVALID): "CKR_MECHANISM_INVALID", CK_RV(CKR_MECHANISM_PARAM_INVALID): "CKR_MECHANISM_PARAM_INVALID",
        CK_RV(CKR_OBJECT_HANDLE_INVALID): "CKR_OBJECT_HANDLE_INVALID", CK_RV(CKR_OPERATION_ACTIVE): "CKR_OPERATION_ACTIVE",
        CK_RV(CKR_PIN_INCORRECT): "CKR_PIN_INCORRECT", CK_RV(CKR_PIN_LOCKED): "CKR_PIN_LOCKED",
        CK_RV(CKR_SESSION_CLOSED): "CKR_SESSION_CLOSED", CK_RV(CKR_SESSION_COUNT): "CKR_SESSION_COUNT",
        CK_RV(CKR_SESSION_HANDLE_INVALID): "CKR_SESSION_HANDLE_INVALID", CK_RV(CKR_SESSION_READ_ONLY): "CKR_SESSION_READ_ONLY",
        CK_RV(CKR_TEMPLATE_INCOMPLETE): "CKR_TEMPLATE_INCOMPLETE", CK_RV(CKR_TEMPLATE_INCONSISTENT): "CKR_TEMPLATE_INCONSISTENT",
        CK_RV(CKR_TOKEN_NOT_PRESENT): "CKR_TOKEN_NOT_PRESENT", CK_RV(CKR_TOKEN_NOT_RECOGNIZED): "CKR_TOKEN_NOT_RECOGNIZED",
        CK_RV(CKR_USER_NOT_LOGGED_IN): "CKR_USER_NOT_LOGGED_IN", CK_RV(CKR_USER_PIN_NOT_INITIALIZED): "CKR_USER_PIN_NOT_INITIALIZED",
        CK_RV(CKR_BUFFER_TOO_SMALL): "CKR_BUFFER_TOO_SMALL", CK_RV(CKR_CRYPTOKI_NOT_INITIALIZED): "CKR_CRYPTOKI_NOT_INITIALIZED",
    ]

    static func name(_ rv: CK_RV) -> String {
        names[rv] ?? "CKR 0x" + String(rv, radix: 16)
    }
}
