import CPKCS11
import Foundation
import GcryptKit

/// One token (one slot of a module), shared by every key on it in this process. Sessions
/// are pooled: PKCS#11 forbids two threads in one session, so each operation takes an idle
/// session or opens one, and the ingester's workers sign and unwrap side by side. The login
/// belongs to the application, not the session, so one `login` serves them all.
public final class Token: @unchecked Sendable {
    public let module: TokenModule
    public let slot: CK_SLOT_ID
    public let label: String
    // Guarded by `lock`.
    private let lock = NSLock()
    private var idle: [CK_SESSION_HANDLE] = []
    private var loggedIn = false
    private var oaep: OAEPMode?

    /// How this token decrypts OAEP with SHA-256 and a label (asked once, then remembered):
    /// on the token, or raw RSA there with the OAEP decoding in sealdrop.
    public enum OAEPMode: Sendable { case native, raw }

    init(module: TokenModule, slot: CK_SLOT_ID, label: String) {
        self.module = module
        self.slot = slot
        self.label = label
    }

    /// A fixed-width, space-padded field of a PKCS#11 info structure, as text.
    static func text<T>(_ field: T) -> String {
        let bytes = withUnsafeBytes(of: field) { Array($0) }
        let trimmed = bytes.reversed().drop { $0 == 0x20 || $0 == 0 }.reversed()
        return String(decoding: trimmed, as: UTF8.self)
    }

    func check(_ rv: CK_RV, _ function: String) throws {
        try module.check(rv, function, token: label)
    }

    // MARK: Sessions and login

    static let sessionGone: Set<String> = ["CKR_SESSION_HANDLE_INVALID", "CKR_SESSION_CLOSED", "CKR_DEVICE_REMOVED"]

    /// Runs `body` in a session of its own, read-write (key generation needs it).
    func withSession<R>(_ body: (CK_SESSION_HANDLE) throws -> R) throws -> R {
        let session: CK_SESSION_HANDLE
        if let reused = lock.withLock({ idle.popLast() }) {
            session = reused
        } else {
            var opened: CK_SESSION_HANDLE = 0
            try check(try module.function(\.C_OpenSession, "C_OpenSession")(
                slot, CK_FLAGS(CKF_SERIAL_SESSION | CKF_RW_SESSION), nil, nil, &opened), "C_OpenSession")
            session = opened
        }
        do {
            let result = try body(session)
            lock.withLock { idle.append(session) }
            return result
        } catch {
            // A session the token closed (removed, reset) is not kept for the next operation.
            if case TokenError.call(_, let result, _) = error, Self.sessionGone.contains(result) { throw error }
            lock.withLock { idle.append(session) }
            throw error
        }
    }

    /// Logs the user in with `pin` (once per process; later calls do nothing).
    public func login(pin: SecretBytes) throws {
        if lock.withLock({ loggedIn }) { return }
        let login = try module.function(\.C_Login, "C_Login")
        let rv = try withSession { session in
            pin.withUnsafeBytes { bytes in
                login(session, CK_USER_TYPE(CKU_USER), UnsafeMutablePointer(mutating: bytes.bindMemory(to: CK_UTF8CHAR.self).baseAddress),
                      CK_ULONG(bytes.count))
            }
        }
        switch rv {
        case CK_RV(CKR_OK), CK_RV(CKR_USER_ALREADY_LOGGED_IN): break
        case CK_RV(CKR_PIN_INCORRECT), CK_RV(CKR_PIN_LEN_RANGE): throw TokenError.wrongPIN(token: label, triesLeft: try triesLeft())
        case CK_RV(CKR_PIN_LOCKED): throw TokenError.pinLocked(token: label)
        default: try check(rv, "C_Login")
        }
        lock.withLock { loggedIn = true }
    }

    /// What the token says of the user PIN's remaining tries (it gives flags, not a count).
    private func triesLeft() throws -> String? {
        var info = CK_TOKEN_INFO()
        try check(try module.function(\.C_GetTokenInfo, "C_GetTokenInfo")(slot, &info), "C_GetTokenInfo")
        if info.flags & CK_FLAGS(CKF_USER_PIN_LOCKED) != 0 { return "the PIN is now locked" }
        if info.flags & CK_FLAGS(CKF_USER_PIN_FINAL_TRY) != 0 { return "one try is left before the PIN locks" }
        if info.flags & CK_FLAGS(CKF_USER_PIN_COUNT_LOW) != 0 { return "few tries are left before the PIN locks" }
        return nil
    }

    // MARK: Mechanisms

    /// The token's flags for `mechanism`, or nil when it does not offer it.
    func mechanismFlags(_ mechanism: CK_MECHANISM_TYPE, keyBits: Int) throws -> CK_FLAGS? {
        var info = CK_MECHANISM_INFO()
        let rv = try module.function(\.C_GetMechanismInfo, "C_GetMechanismInfo")(slot, mechanism, &info)
        if rv == CKR_MECHANISM_INVALID { return nil }
        try check(rv, "C_GetMechanismInfo")
        // Sizes are in bits for RSA (some tokens leave them 0: no stated limit).
        if info.ulMaxKeySize != 0, keyBits > Int(info.ulMaxKeySize) { return nil }
        if keyBits < Int(info.ulMinKeySize) { return nil }
        return info.flags
    }

    /// Refuses, in words, a token that cannot do `mechanism` with `flag` for keys of `keyBits`.
    func require(_ mechanism: CK_MECHANISM_TYPE, _ flag: some BinaryInteger, keyBits: Int, name: String, purpose: String) throws {
        guard let flags = try mechanismFlags(mechanism, keyBits: keyBits), flags & CK_FLAGS(flag) != 0 else {
            throw TokenError.mechanismUnsupported(token: label, mechanism: "\(name) for \(keyBits)-bit keys", purpose: purpose)
        }
    }

    // MARK: Objects

    /// Attribute values for a template: each value is raw bytes in the layout PKCS#11 expects.
    struct Attribute {
        let type: CK_ATTRIBUTE_TYPE
        let value: [UInt8]

        init(_ type: some BinaryInteger, bytes: [UInt8]) {
            self.type = CK_ATTRIBUTE_TYPE(type)
            value = bytes
        }
        init(_ type: some BinaryInteger, _ flag: Bool) { self.init(type, bytes: [flag ? UInt8(CK_TRUE) : UInt8(CK_FALSE)]) }
        init(_ type: some BinaryInteger, ulong: some BinaryInteger) {
            var number = CK_ULONG(ulong)
            self.init(type, bytes: withUnsafeBytes(of: &number) { Array($0) })
        }
        init(_ type: some BinaryInteger, text: String) { self.init(type, bytes: Array(text.utf8)) }
    }

    /// Calls `body` with a C template of `attributes`, valid for the call only.
    static func withTemplate<R>(_ attributes: [Attribute], _ body: (UnsafeMutablePointer<CK_ATTRIBUTE>?, CK_ULONG) throws -> R) rethrows -> R {
        let values = attributes.map { attribute -> UnsafeMutableRawBufferPointer in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(attribute.value.count, 1), alignment: 8)
            buffer.copyBytes(from: attribute.value)
            return buffer
        }
        defer {
            for buffer in values {
                // Templates carry private key components on import.
                memset(buffer.baseAddress!, 0, buffer.count)
                buffer.deallocate()
            }
        }
        var template = zip(attributes, values).map { attribute, buffer in
            CK_ATTRIBUTE(type: attribute.type, pValue: buffer.baseAddress, ulValueLen: CK_ULONG(attribute.value.count))
        }
        return try template.withUnsafeMutableBufferPointer { try body($0.baseAddress, CK_ULONG($0.count)) }
    }

    /// The handles of objects matching `attributes` (at most `limit`).
    func find(_ attributes: [Attribute], limit: Int = 16) throws -> [CK_OBJECT_HANDLE] {
        let initFind = try module.function(\.C_FindObjectsInit, "C_FindObjectsInit")
        let findObjects = try module.function(\.C_FindObjects, "C_FindObjects")
        let finalFind = try module.function(\.C_FindObjectsFinal, "C_FindObjectsFinal")
        return try withSession { session in
            try Self.withTemplate(attributes) { template, count in try check(initFind(session, template, count), "C_FindObjectsInit") }
            defer { _ = finalFind(session) }
            var handles = [CK_OBJECT_HANDLE](repeating: 0, count: limit)
            var found: CK_ULONG = 0
            try check(findObjects(session, &handles, CK_ULONG(limit), &found), "C_FindObjects")
            return Array(handles.prefix(Int(min(found, CK_ULONG(limit)))))
        }
    }

    /// One attribute of an object as bytes (nil when the token will not reveal it).
    func attribute(_ type: some BinaryInteger, of object: CK_OBJECT_HANDLE) throws -> [UInt8]? {
        let get = try module.function(\.C_GetAttributeValue, "C_GetAttributeValue")
        return try withSession { session in
            var query = CK_ATTRIBUTE(type: CK_ATTRIBUTE_TYPE(type), pValue: nil, ulValueLen: 0)
            let sized = get(session, object, &query, 1)
            if sized == CKR_ATTRIBUTE_SENSITIVE || sized == CKR_ATTRIBUTE_TYPE_INVALID { return nil }
            try check(sized, "C_GetAttributeValue")
            guard query.ulValueLen != CK_ULONG.max, query.ulValueLen <= 65536 else { return nil }
            var value = [UInt8](repeating: 0, count: Int(query.ulValueLen))
            try value.withUnsafeMutableBytes { buffer in
                query.pValue = buffer.baseAddress
                try check(get(session, object, &query, 1), "C_GetAttributeValue")
            }
            return Array(value.prefix(Int(query.ulValueLen)))
        }
    }

    func flag(_ type: some BinaryInteger, of object: CK_OBJECT_HANDLE) throws -> Bool? {
        try attribute(type, of: object).map { $0.first.map { $0 != 0 } ?? false }
    }

    /// The public half of the RSA private key `object`.
    func publicKey(of object: CK_OBJECT_HANDLE) throws -> RSA.PublicKey {
        guard let modulus = try attribute(CKA_MODULUS, of: object), let exponent = try attribute(CKA_PUBLIC_EXPONENT, of: object) else {
            throw TokenError.call(function: "C_GetAttributeValue", result: "the key's modulus or exponent is not readable", token: label)
        }
        return try RSA.PublicKey(modulus: modulus, exponent: exponent)
    }

    func destroy(_ object: CK_OBJECT_HANDLE) throws {
        let destroy = try module.function(\.C_DestroyObject, "C_DestroyObject")
        try withSession { session in try check(destroy(session, object), "C_DestroyObject") }
    }

    // MARK: Operations

    /// Runs one single-part operation: `initialize` with the mechanism, then `run` into an
    /// output buffer of `outputCount` bytes. Returns the PKCS#11 result, the function that
    /// gave it, and the output.
    func perform(
        mechanism: CK_MECHANISM_TYPE, parameter: UnsafeMutableRawBufferPointer?, key: CK_OBJECT_HANDLE, input: [UInt8], outputCount: Int,
        initialize: KeyPath<CK_FUNCTION_LIST, CK_C_SignInit?>, run: KeyPath<CK_FUNCTION_LIST, CK_C_Sign?>, names: (String, String)
    ) throws -> (rv: CK_RV, function: String, output: [UInt8]) {
        let initialize = try module.function(initialize, names.0)
        let run = try module.function(run, names.1)
        return try withSession { session in
            var mechanism = CK_MECHANISM(mechanism: mechanism, pParameter: parameter?.baseAddress, ulParameterLen: CK_ULONG(parameter?.count ?? 0))
            let started = initialize(session, &mechanism, key)
            guard started == CKR_OK else { return (started, names.0, []) }
            var input = input
            var output = [UInt8](repeating: 0, count: outputCount)
            // The output may be a decrypted key: no copy of it outlives the caller's.
            defer { Memory.zero(&output) }
            var length = CK_ULONG(outputCount)
            let rv = input.withUnsafeMutableBufferPointer { input in
                run(session, input.baseAddress, CK_ULONG(input.count), &output, &length)
            }
            return (rv, names.1, rv == CKR_OK ? Array(output.prefix(Int(min(length, CK_ULONG(outputCount))))) : [])
        }
    }

    /// How this token decrypts OAEP-SHA256 with a label, once a key on it has decrypted.
    public func oaepMode() -> OAEPMode? { lock.withLock { oaep } }
    func setOAEPMode(_ mode: OAEPMode) { lock.withLock { oaep = mode } }
}
