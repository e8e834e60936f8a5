import CPKCS11
import Foundation
import GcryptKit

/// An RSA private key on a token: it signs and decrypts there and never leaves it. The same
/// bytes come out as from a key in memory (RSA-PSS with SHA-256, MGF1-SHA256 and a 32-byte
/// salt; OAEP with SHA-256 and FORMAT.md's labels), so envelopes do not tell them apart.
public struct TokenKey: RSA.PrivateOperations {
    public let token: Token
    let handle: CK_OBJECT_HANDLE
    public let publicKey: RSA.PublicKey
    /// The URI that finds this key again (written beside certificates, in place of a key file).
    public let uri: PKCS11URI

    /// What the key may do on the token; the token refuses anything else. The server's CA,
    /// delivery and TLS keys only sign, its encryption key only decrypts, a user's key does both.
    public enum Usage: Sendable {
        case sign, decrypt, signAndDecrypt
        var signs: Bool { self != .decrypt }
        var decrypts: Bool { self != .sign }
    }

    /// How the private key is held, as the token reports it.
    public struct Protection: Sendable, Equatable {
        public let sensitive: Bool
        public let extractable: Bool
        public let neverExtractable: Bool
    }

    // MARK: Finding, generating, importing

    /// The private key `uri` names on this token.
    public static func find(_ uri: PKCS11URI, on token: Token) throws -> TokenKey {
        var template = [Token.Attribute(CKA_CLASS, ulong: CKO_PRIVATE_KEY), Token.Attribute(CKA_KEY_TYPE, ulong: CKK_RSA)]
        if let object = uri.object { template.append(Token.Attribute(CKA_LABEL, text: object)) }
        if let id = uri.id { template.append(Token.Attribute(CKA_ID, bytes: id)) }
        if let type = uri.type, type != "private" { throw TokenError.badURI(uri.description, "type=\(type) does not name a private key") }
        let handles = try token.find(template)
        guard let handle = handles.first else { throw TokenError.keyNotFound(uri.description) }
        guard handles.count == 1 else { throw TokenError.keyAmbiguous(uri.description, count: handles.count) }
        return try TokenKey(token: token, handle: handle, uri: uri)
    }

    init(token: Token, handle: CK_OBJECT_HANDLE, uri: PKCS11URI) throws {
        self.token = token
        self.handle = handle
        self.publicKey = try token.publicKey(of: handle)
        self.uri = uri
    }

    /// The URI sealdrop writes for a key it made: token, label, id and module, so the key is
    /// found again even if another key on the token takes the same label.
    static func uri(token: Token, label: String, id: [UInt8]) -> PKCS11URI {
        PKCS11URI(token: token.label, object: label, id: id, type: "private", modulePath: token.module.path)
    }

    /// Refuses a second key with `label` on the token: the URI of each must stay unambiguous
    /// for whoever names it by label alone.
    static func checkFree(_ label: String, on token: Token) throws {
        let existing = try token.find([Token.Attribute(CKA_CLASS, ulong: CKO_PRIVATE_KEY), Token.Attribute(CKA_LABEL, text: label)], limit: 1)
        guard existing.isEmpty else { throw TokenError.keyExists(token: token.label, label: label) }
    }

    /// What both halves of a new key pair carry, and the private half's protection:
    /// sensitive and never extractable.
    static func templates(label: String, id: [UInt8], usage: Usage) -> (public: [Token.Attribute], private: [Token.Attribute]) {
        let common = [
            Token.Attribute(CKA_TOKEN, true), Token.Attribute(CKA_LABEL, text: label), Token.Attribute(CKA_ID, bytes: id),
            Token.Attribute(CKA_KEY_TYPE, ulong: CKK_RSA),
        ]
        let publicHalf = common + [
            Token.Attribute(CKA_CLASS, ulong: CKO_PUBLIC_KEY), Token.Attribute(CKA_PRIVATE, false),
            Token.Attribute(CKA_VERIFY, usage.signs), Token.Attribute(CKA_ENCRYPT, usage.decrypts),
        ]
        let privateHalf = common + [
            Token.Attribute(CKA_CLASS, ulong: CKO_PRIVATE_KEY), Token.Attribute(CKA_PRIVATE, true),
            Token.Attribute(CKA_SENSITIVE, true), Token.Attribute(CKA_EXTRACTABLE, false),
            Token.Attribute(CKA_SIGN, usage.signs), Token.Attribute(CKA_DECRYPT, usage.decrypts),
        ]
        return (publicHalf, privateHalf)
    }

    /// Generates an RSA key pair on the token (the private half sensitive and not extractable).
    /// The label must be free, unless `sharingLabel` (a successor, found by its own id).
    public static func generate(on token: Token, label: String, usage: Usage, size: RSA.KeySize = .default,
                                sharingLabel: Bool = false) throws -> TokenKey {
        if !sharingLabel { try checkFree(label, on: token) }
        try token.require(CK_MECHANISM_TYPE(CKM_RSA_PKCS_KEY_PAIR_GEN), CKF_GENERATE_KEY_PAIR, keyBits: size.rawValue,
                          name: "CKM_RSA_PKCS_KEY_PAIR_GEN", purpose: "generating keys")
        let id = Random.bytes(count: 16)
        var (publicHalf, privateHalf) = templates(label: label, id: id, usage: usage)
        publicHalf.append(Token.Attribute(CKA_MODULUS_BITS, ulong: size.rawValue))
        publicHalf.append(Token.Attribute(CKA_PUBLIC_EXPONENT, bytes: [0x01, 0x00, 0x01]))
        let generate = try token.module.function(\.C_GenerateKeyPair, "C_GenerateKeyPair")
        let handle: CK_OBJECT_HANDLE = try token.withSession { session in
            var mechanism = CK_MECHANISM(mechanism: CK_MECHANISM_TYPE(CKM_RSA_PKCS_KEY_PAIR_GEN), pParameter: nil, ulParameterLen: 0)
            var publicHandle: CK_OBJECT_HANDLE = 0
            var privateHandle: CK_OBJECT_HANDLE = 0
            try Token.withTemplate(publicHalf) { publicTemplate, publicCount in
                try Token.withTemplate(privateHalf) { privateTemplate, privateCount in
                    try token.check(generate(session, &mechanism, publicTemplate, publicCount, privateTemplate, privateCount,
                                             &publicHandle, &privateHandle), "C_GenerateKeyPair")
                }
            }
            return privateHandle
        }
        return try TokenKey(token: token, handle: handle, uri: uri(token: token, label: label, id: id))
    }

    /// Copies `key` onto the token (private half sensitive and not extractable from then on),
    /// for moving a key file's key onto a token. The caller removes the file.
    public static func importKey(_ key: RSA.PrivateKey, to token: Token, label: String, usage: Usage) throws -> TokenKey {
        try checkFree(label, on: token)
        let id = Random.bytes(count: 16)
        var (publicHalf, privateHalf) = templates(label: label, id: id, usage: usage)
        var components = key.components
        defer { components.zeroize() }
        publicHalf += [Token.Attribute(CKA_MODULUS, bytes: components.modulus), Token.Attribute(CKA_PUBLIC_EXPONENT, bytes: components.publicExponent)]
        privateHalf += [
            Token.Attribute(CKA_MODULUS, bytes: components.modulus), Token.Attribute(CKA_PUBLIC_EXPONENT, bytes: components.publicExponent),
            Token.Attribute(CKA_PRIVATE_EXPONENT, bytes: components.privateExponent), Token.Attribute(CKA_PRIME_1, bytes: components.prime1),
            Token.Attribute(CKA_PRIME_2, bytes: components.prime2), Token.Attribute(CKA_EXPONENT_1, bytes: components.exponent1),
            Token.Attribute(CKA_EXPONENT_2, bytes: components.exponent2), Token.Attribute(CKA_COEFFICIENT, bytes: components.coefficient),
        ]
        let create = try token.module.function(\.C_CreateObject, "C_CreateObject")
        let handle: CK_OBJECT_HANDLE = try token.withSession { session in
            var handles: [CK_OBJECT_HANDLE] = []
            for template in [publicHalf, privateHalf] {
                var handle: CK_OBJECT_HANDLE = 0
                try Token.withTemplate(template) { attributes, count in
                    try token.check(create(session, attributes, count, &handle), "C_CreateObject")
                }
                handles.append(handle)
            }
            return handles[1]
        }
        let imported = try TokenKey(token: token, handle: handle, uri: uri(token: token, label: label, id: id))
        guard imported.publicKey == key.publicKey else {
            throw TokenError.call(function: "C_CreateObject", result: "the imported key reads back as another key", token: token.label)
        }
        return imported
    }

    /// Removes the key pair from the token (both halves: they share the id).
    public func destroy() throws {
        for half in try halves() { try token.destroy(half) }
    }

    /// Both halves of the pair (found by their shared id), or the private half alone.
    func halves() throws -> [CK_OBJECT_HANDLE] {
        guard let id = uri.id else { return [handle] }
        return try token.find([Token.Attribute(CKA_ID, bytes: id), Token.Attribute(CKA_KEY_TYPE, ulong: CKK_RSA)])
    }

    /// Sensitive, extractable and never-extractable, as the token reports them.
    public func protection() throws -> Protection {
        Protection(
            sensitive: try token.flag(CKA_SENSITIVE, of: handle) ?? false,
            extractable: try token.flag(CKA_EXTRACTABLE, of: handle) ?? true,
            neverExtractable: try token.flag(CKA_NEVER_EXTRACTABLE, of: handle) ?? false)
    }

    /// The private components the token hands out when asked (none, for a sensitive key).
    public func readableComponents() throws -> [String] {
        let components: [(String, CK_ATTRIBUTE_TYPE)] = [
            ("private exponent", CK_ATTRIBUTE_TYPE(CKA_PRIVATE_EXPONENT)), ("prime 1", CK_ATTRIBUTE_TYPE(CKA_PRIME_1)),
            ("prime 2", CK_ATTRIBUTE_TYPE(CKA_PRIME_2)), ("coefficient", CK_ATTRIBUTE_TYPE(CKA_COEFFICIENT)),
        ]
        return try components.filter { try token.attribute($0.1, of: handle) != nil }.map(\.0)
    }

    // MARK: Operations

    public func signPSS(digest: SHA256Digest) throws -> [UInt8] {
        try token.require(CK_MECHANISM_TYPE(CKM_RSA_PKCS_PSS), CKF_SIGN, keyBits: publicKey.bitCount,
                          name: "CKM_RSA_PKCS_PSS", purpose: "RSA-PSS signatures")
        var parameters = CK_RSA_PKCS_PSS_PARAMS(
            hashAlg: CK_MECHANISM_TYPE(CKM_SHA256), mgf: CK_RSA_PKCS_MGF_TYPE(CKG_MGF1_SHA256), sLen: CK_ULONG(RSA.pssSaltByteCount))
        let (rv, function, signature) = try withUnsafeMutableBytes(of: &parameters) { parameter in
            try token.perform(mechanism: CK_MECHANISM_TYPE(CKM_RSA_PKCS_PSS), parameter: parameter, key: handle, input: digest.bytes,
                              outputCount: publicKey.byteCount, initialize: \.C_SignInit, run: \.C_Sign, names: ("C_SignInit", "C_Sign"))
        }
        try token.check(rv, function)
        // As for a key in memory: a faulty signature is never handed out (RSA fault attacks).
        guard publicKey.isValidPSSSignature(signature, for: digest) else {
            throw TokenError.call(function: "C_Sign", result: "a signature that fails its own verification", token: token.label)
        }
        return signature
    }

    public func decryptOAEP(_ ciphertext: [UInt8], label: [UInt8]) throws -> SecretBytes {
        guard publicKey.isReduced(ciphertext) else { throw CryptoError.authenticationFailure }
        switch try oaepMode() {
        case .native:
            var labelBytes = label
            return try labelBytes.withUnsafeMutableBytes { labelBuffer in
                var parameters = CK_RSA_PKCS_OAEP_PARAMS(
                    hashAlg: CK_MECHANISM_TYPE(CKM_SHA256), mgf: CK_RSA_PKCS_MGF_TYPE(CKG_MGF1_SHA256),
                    source: CK_RSA_PKCS_OAEP_SOURCE_TYPE(CKZ_DATA_SPECIFIED), pSourceData: labelBuffer.baseAddress,
                    ulSourceDataLen: CK_ULONG(labelBuffer.count))
                let (rv, function, message) = try withUnsafeMutableBytes(of: &parameters) { parameter in
                    try token.perform(mechanism: CK_MECHANISM_TYPE(CKM_RSA_PKCS_OAEP), parameter: parameter, key: handle, input: ciphertext,
                                      outputCount: publicKey.byteCount, initialize: \.C_DecryptInit, run: \.C_Decrypt,
                                      names: ("C_DecryptInit", "C_Decrypt"))
                }
                var plain = message
                defer { Memory.zero(&plain) }
                switch rv {
                case CK_RV(CKR_OK): return SecretBytes(plain)
                case CK_RV(CKR_MECHANISM_PARAM_INVALID), CK_RV(CKR_ARGUMENTS_BAD), CK_RV(CKR_MECHANISM_INVALID):
                    // The token lists OAEP but not with SHA-256 and a label (SoftHSM 2.6):
                    // decrypt raw from now on.
                    token.setOAEPMode(.raw)
                    return try decryptOAEP(ciphertext, label: label)
                case CK_RV(CKR_ENCRYPTED_DATA_INVALID), CK_RV(CKR_ENCRYPTED_DATA_LEN_RANGE), CK_RV(CKR_DATA_INVALID), CK_RV(CKR_DATA_LEN_RANGE):
                    throw CryptoError.authenticationFailure
                default:
                    try token.check(rv, function)
                    throw CryptoError.authenticationFailure
                }
            }
        case .raw:
            let (rv, function, raw) = try token.perform(mechanism: CK_MECHANISM_TYPE(CKM_RSA_X_509), parameter: nil, key: handle, input: ciphertext,
                                              outputCount: publicKey.byteCount, initialize: \.C_DecryptInit, run: \.C_Decrypt,
                                              names: ("C_DecryptInit", "C_Decrypt"))
            try token.check(rv, function)
            // Some tokens drop the leading zero bytes of c^d mod n.
            var encoded = [UInt8](repeating: 0, count: publicKey.byteCount - min(raw.count, publicKey.byteCount)) + raw
            var returned = raw
            defer {
                Memory.zero(&encoded)
                Memory.zero(&returned)
            }
            return try publicKey.decodeOAEP(rawDecryption: encoded, label: label)
        }
    }

    /// Native OAEP when the token lists it for decryption (tried first, as it keeps the
    /// padding check on the token), else raw RSA with the decoding done here; neither is a
    /// clear error naming both mechanisms.
    private func oaepMode() throws -> Token.OAEPMode {
        if let known = token.oaepMode() { return known }
        let bits = publicKey.bitCount
        if let flags = try token.mechanismFlags(CK_MECHANISM_TYPE(CKM_RSA_PKCS_OAEP), keyBits: bits), flags & CK_FLAGS(CKF_DECRYPT) != 0 {
            token.setOAEPMode(.native)
            return .native
        }
        guard let flags = try token.mechanismFlags(CK_MECHANISM_TYPE(CKM_RSA_X_509), keyBits: bits), flags & CK_FLAGS(CKF_DECRYPT) != 0 else {
            throw TokenError.mechanismUnsupported(
                token: token.label, mechanism: "CKM_RSA_PKCS_OAEP (SHA-256, with a label) or CKM_RSA_X_509 for \(bits)-bit keys",
                purpose: "unwrapping content keys")
        }
        token.setOAEPMode(.raw)
        return .raw
    }
}
