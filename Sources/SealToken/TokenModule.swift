import CPKCS11
import Foundation

/// A PKCS#11 module (the token vendor's shared library), loaded once per process with
/// `dlopen` and initialised for use from several threads (`CKF_OS_LOCKING_OK`). Modules
/// stay loaded until the process ends: a module may hold state (logins) for every caller.
public final class TokenModule: @unchecked Sendable {
    public let path: String
    let functions: UnsafeMutablePointer<CK_FUNCTION_LIST>
    // `tokens` is guarded by `lock`.
    private let lock = NSLock()
    private var tokens: [CK_SLOT_ID: Token] = [:]

    private static let lock = NSLock()
    // Guarded by `lock`.
    nonisolated(unsafe) private static var loaded: [String: TokenModule] = [:]

    private init(path: String, functions: UnsafeMutablePointer<CK_FUNCTION_LIST>) {
        self.path = path
        self.functions = functions
    }

    /// The module at `path`, loaded and initialised on first use.
    public static func load(_ path: String) throws -> TokenModule {
        try lock.withLock {
            if let module = loaded[path] { return module }
            guard path.hasPrefix("/") else {
                throw TokenError.moduleNotLoaded(path: path, reason: "give an absolute path, so no library search path decides which code runs")
            }
            guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
                throw TokenError.moduleNotLoaded(path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
            }
            guard let symbol = dlsym(handle, "C_GetFunctionList") else {
                dlclose(handle)
                throw TokenError.moduleNotLoaded(path: path, reason: "it has no C_GetFunctionList: not a PKCS#11 module")
            }
            typealias GetFunctionList = @convention(c) (UnsafeMutablePointer<UnsafeMutablePointer<CK_FUNCTION_LIST>?>?) -> CK_RV
            var list: UnsafeMutablePointer<CK_FUNCTION_LIST>?
            let rv = unsafeBitCast(symbol, to: GetFunctionList.self)(&list)
            guard rv == CKR_OK, let list else {
                dlclose(handle)
                throw TokenError.moduleNotLoaded(path: path, reason: "C_GetFunctionList returned \(TokenError.name(rv))")
            }
            let module = TokenModule(path: path, functions: list)
            var arguments = CK_C_INITIALIZE_ARGS()
            arguments.flags = CK_FLAGS(CKF_OS_LOCKING_OK)
            let initialized = try module.function(\.C_Initialize, "C_Initialize")(&arguments)
            guard initialized == CKR_OK || initialized == CKR_CRYPTOKI_ALREADY_INITIALIZED else {
                dlclose(handle)
                throw TokenError.moduleNotLoaded(path: path, reason: "C_Initialize returned \(TokenError.name(initialized))")
            }
            loaded[path] = module
            return module
        }
    }

    /// One entry of the module's function list; a module that leaves it empty gets an error,
    /// not a trap.
    func function<F>(_ entry: KeyPath<CK_FUNCTION_LIST, F?>, _ name: String) throws -> F {
        guard let function = functions.pointee[keyPath: entry] else {
            throw TokenError.call(function: name, result: "no such function in \(path)", token: nil)
        }
        return function
    }

    func check(_ rv: CK_RV, _ function: String, token: String? = nil) throws {
        guard rv == CKR_OK else { throw TokenError.call(function: function, result: TokenError.name(rv), token: token) }
    }

    /// The labels of the tokens present, by slot.
    public func tokensPresent() throws -> [(slot: CK_SLOT_ID, info: CK_TOKEN_INFO)] {
        let getSlots = try function(\.C_GetSlotList, "C_GetSlotList")
        var count: CK_ULONG = 0
        try check(getSlots(CK_BBOOL(CK_TRUE), nil, &count), "C_GetSlotList")
        var slots = [CK_SLOT_ID](repeating: 0, count: Int(count))
        try check(getSlots(CK_BBOOL(CK_TRUE), &slots, &count), "C_GetSlotList")
        let getInfo = try function(\.C_GetTokenInfo, "C_GetTokenInfo")
        return try slots.prefix(Int(count)).map { slot in
            var info = CK_TOKEN_INFO()
            try check(getInfo(slot, &info), "C_GetTokenInfo")
            return (slot, info)
        }
    }

    /// The token `uri` names (by label, and by serial, manufacturer and model where given).
    public func token(matching uri: PKCS11URI) throws -> Token {
        let present = try tokensPresent()
        let matching = present.filter { _, info in
            (uri.token.map { $0 == Token.text(info.label) } ?? true)
                && (uri.serial.map { $0 == Token.text(info.serialNumber) } ?? true)
                && (uri.manufacturer.map { $0 == Token.text(info.manufacturerID) } ?? true)
                && (uri.model.map { $0 == Token.text(info.model) } ?? true)
        }
        guard let (slot, info) = matching.first else {
            throw TokenError.tokenNotFound(
                label: uri.token ?? uri.description, module: path, present: present.map { Token.text($0.info.label) })
        }
        guard matching.count == 1 else {
            throw TokenError.call(function: "C_GetSlotList", result: "\(matching.count) tokens match \(uri)", token: nil)
        }
        return lock.withLock {
            if let token = tokens[slot] { return token }
            let token = Token(module: self, slot: slot, label: Token.text(info.label))
            tokens[slot] = token
            return token
        }
    }

    /// The token labelled `label`.
    public func token(labelled label: String) throws -> Token {
        try token(matching: PKCS11URI(token: label))
    }
}
