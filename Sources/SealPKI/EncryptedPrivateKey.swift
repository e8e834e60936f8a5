import GcryptKit
import SwiftASN1

/// PKCS#8 EncryptedPrivateKeyInfo with PBES2 (RFC 8018 A.4): how private keys are stored.
///
/// Written: scrypt (RFC 7914 section 7) + AES-256-CBC. Read: that, or PBKDF2-HMAC-SHA256 +
/// AES-256-CBC (what `openssl genpkey -aes-256-cbc` writes). Everything else is refused.
public enum EncryptedPrivateKey {
    static let pemType = "ENCRYPTED PRIVATE KEY"
    static let saltByteCount = 16

    /// The PEM text of `key` encrypted under `passphrase`.
    public static func pem(
        for key: RSA.PrivateKey, passphrase: SecretBytes,
        parameters: KDF.ScryptParameters = .keyFile
    ) throws -> String {
        let salt = Random.bytes(count: saltByteCount)
        let iv = Random.bytes(count: AES.CBC.ivByteCount)
        let kek = try KDF.scrypt(password: passphrase, salt: salt, parameters: parameters, outputByteCount: AES.keyByteCount)
        let plaintext = try PrivateKeyInfo.encode(key)
        let ciphertext = try plaintext.withUnsafeBytes { try AES.CBC.encrypt(Array($0), key: kek, iv: iv) }
        let der = try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(pbes2Identifier(
                    kdf: AlgorithmIdentifier(algorithm: OID.scrypt, parameters: try ASN1Any(erasing: ScryptParams(
                        salt: salt, cost: parameters.cost, blockSize: KDF.ScryptParameters.blockSize,
                        parallelization: parameters.parallelization, keyLength: AES.keyByteCount))),
                    iv: iv))
                try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(ciphertext)))
            }
        }
        return PEM.encode(der, type: pemType)
    }

    /// Decrypts a PEM private key: PKCS#8 (sealdrop's own, or openssl's), or openssl's
    /// traditional encrypted RSA PRIVATE KEY. An unencrypted key is refused.
    public static func decrypt(pem text: String, passphrase: SecretBytes) throws -> RSA.PrivateKey {
        try Locked(pem: text).unlock(passphrase)
    }

    static func decrypt(der: [UInt8], passphrase: SecretBytes) throws -> RSA.PrivateKey {
        let (scheme, ciphertext) = try parse(der)
        return try decrypt(ciphertext, scheme: scheme, passphrase: passphrase)
    }

    /// A PEM private key parsed but not decrypted: every error but a wrong passphrase (or a
    /// damaged ciphertext) is found before the costly key derivation, which `unlock` runs.
    public struct Locked: Sendable {
        private enum Form {
            case traditional(String)
            case pkcs8(Scheme, ciphertext: [UInt8])
        }

        private let form: Form

        public init(pem text: String) throws {
            if TraditionalPrivateKey.hasHeaders(text) {
                form = .traditional(text)
                return
            }
            let document = try PEM.document(text, expecting: [pemType, "PRIVATE KEY", "RSA PRIVATE KEY"])
            guard document.discriminator == pemType else { throw PKIError.unencryptedPrivateKey }
            let (scheme, ciphertext) = try parse(document.derBytes)
            form = .pkcs8(scheme, ciphertext: ciphertext)
        }

        /// The key, its derivation (scrypt) on at most `cores` cores (nil: every one).
        public func unlock(_ passphrase: SecretBytes, cores: Int? = nil) throws -> RSA.PrivateKey {
            switch form {
            case .traditional(let text): try TraditionalPrivateKey.decrypt(text, passphrase: passphrase)
            case .pkcs8(let scheme, let ciphertext): try decrypt(ciphertext, scheme: scheme, passphrase: passphrase, cores: cores)
            }
        }
    }

    private static func decrypt(
        _ ciphertext: [UInt8], scheme: Scheme, passphrase: SecretBytes, cores: Int? = nil
    ) throws -> RSA.PrivateKey {
        let kek: SecretBytes
        do {
            kek = switch scheme.kdf {
            case .scrypt(let salt, let parameters):
                try KDF.scrypt(password: passphrase, salt: salt, parameters: parameters, outputByteCount: AES.keyByteCount, cores: cores)
            case .pbkdf2(let salt, let iterations):
                try KDF.pbkdf2SHA256(password: passphrase, salt: salt, iterations: iterations, outputByteCount: AES.keyByteCount)
            }
        } catch let error as CryptoError {
            throw PKIError.unsupportedAlgorithm("key derivation parameters: \(error)")
        }
        return try PrivateKeyInfo.decodeDecrypted(try? AES.CBC.decrypt(ciphertext, key: kek, iv: scheme.iv), PrivateKeyInfo.decode)
    }

    // MARK: - ASN.1

    enum KeyDerivation {
        case scrypt(salt: [UInt8], parameters: KDF.ScryptParameters)
        case pbkdf2(salt: [UInt8], iterations: Int)
    }

    struct Scheme {
        var kdf: KeyDerivation
        var iv: [UInt8]
    }

    static func pbes2Identifier(kdf: AlgorithmIdentifier, iv: [UInt8]) throws -> AlgorithmIdentifier {
        let parameters = try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(kdf)
                try coder.serialize(AlgorithmIdentifier(
                    algorithm: OID.aes256CBC,
                    parameters: try ASN1Any(erasing: ASN1OctetString(contentBytes: ArraySlice(iv)))))
            }
        }
        return AlgorithmIdentifier(algorithm: OID.pbes2, parameters: ASN1Any(derEncoded: try DER.parse(parameters)))
    }

    static func parse(_ der: [UInt8]) throws -> (Scheme, [UInt8]) {
        do {
            return try DER.sequence(try DER.parse(der), identifier: .sequence) { nodes in
                let algorithm = try AlgorithmIdentifier(derEncoded: &nodes)
                guard algorithm.algorithm == OID.pbes2, let parameters = algorithm.parameters else {
                    throw PKIError.unsupportedAlgorithm("key encryption \(algorithm.algorithm) (only PBES2)")
                }
                let scheme = try parsePBES2(parameters.node())
                let ciphertext = try ASN1OctetString(derEncoded: &nodes)
                guard !ciphertext.bytes.isEmpty, ciphertext.bytes.count % AES.blockByteCount == 0 else {
                    throw PKIError.malformed("encrypted private key")
                }
                return (scheme, Array(ciphertext.bytes))
            }
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.malformed("encrypted private key (PKCS#8)")
        }
    }

    private static func parsePBES2(_ node: ASN1Node) throws -> Scheme {
        try DER.sequence(node, identifier: .sequence) { nodes in
            let kdf = try AlgorithmIdentifier(derEncoded: &nodes)
            let cipher = try AlgorithmIdentifier(derEncoded: &nodes)
            guard cipher.algorithm == OID.aes256CBC, let ivAny = cipher.parameters else {
                throw PKIError.unsupportedAlgorithm("key file cipher \(cipher.algorithm) (only AES-256-CBC)")
            }
            let iv = Array(try ASN1OctetString(asn1Any: ivAny).bytes)
            guard iv.count == AES.CBC.ivByteCount else { throw PKIError.malformed("key file IV") }
            guard let kdfParameters = kdf.parameters else { throw PKIError.malformed("key derivation parameters") }
            switch kdf.algorithm {
            case OID.scrypt:
                let p = try ScryptParams(asn1Any: kdfParameters)
                guard p.blockSize == KDF.ScryptParameters.blockSize else {
                    throw PKIError.unsupportedAlgorithm("scrypt block size \(p.blockSize) (only 8)")
                }
                guard p.keyLength == nil || p.keyLength == AES.keyByteCount else { throw PKIError.malformed("scrypt key length") }
                let parameters = KDF.ScryptParameters(cost: p.cost, parallelization: p.parallelization)
                // Bounded here, when the file is read, not when the derivation starts.
                do {
                    try parameters.validate()
                } catch {
                    throw PKIError.unsupportedAlgorithm("key file scrypt parameters: \(error)")
                }
                return Scheme(kdf: .scrypt(salt: p.salt, parameters: parameters), iv: iv)
            case OID.pbkdf2:
                return Scheme(kdf: try parsePBKDF2(kdfParameters.node()), iv: iv)
            default:
                throw PKIError.unsupportedAlgorithm("key derivation \(kdf.algorithm) (only scrypt or PBKDF2)")
            }
        }
    }

    private static func parsePBKDF2(_ node: ASN1Node) throws -> KeyDerivation {
        try DER.sequence(node, identifier: .sequence) { nodes in
            let salt = try ASN1OctetString(derEncoded: &nodes)
            let iterations = try Int(derEncoded: &nodes)
            var next = nodes.next()
            if let lengthNode = next, lengthNode.identifier == .integer {
                guard try Int(derEncoded: lengthNode) == AES.keyByteCount else { throw PKIError.malformed("PBKDF2 key length") }
                next = nodes.next()
            }
            // The PRF defaults to HMAC-SHA1, which sealdrop does not accept.
            guard let prfNode = next, try AlgorithmIdentifier(derEncoded: prfNode).algorithm == OID.hmacWithSHA256 else {
                throw PKIError.unsupportedAlgorithm("PBKDF2 with a PRF other than HMAC-SHA256")
            }
            return .pbkdf2(salt: Array(salt.bytes), iterations: iterations)
        }
    }
}

/// scrypt-params (RFC 7914 section 7.1).
struct ScryptParams: DERImplicitlyTaggable {
    static var defaultIdentifier: ASN1Identifier { .sequence }

    var salt: [UInt8]
    var cost: Int
    var blockSize: Int
    var parallelization: Int
    var keyLength: Int?

    init(salt: [UInt8], cost: Int, blockSize: Int, parallelization: Int, keyLength: Int?) {
        self.salt = salt
        self.cost = cost
        self.blockSize = blockSize
        self.parallelization = parallelization
        self.keyLength = keyLength
    }

    init(derEncoded node: ASN1Node, withIdentifier identifier: ASN1Identifier) throws {
        self = try DER.sequence(node, identifier: identifier) { nodes in
            ScryptParams(
                salt: Array(try ASN1OctetString(derEncoded: &nodes).bytes),
                cost: try Int(derEncoded: &nodes),
                blockSize: try Int(derEncoded: &nodes),
                parallelization: try Int(derEncoded: &nodes),
                keyLength: try nodes.next().map { try Int(derEncoded: $0) })
        }
    }

    func serialize(into coder: inout DER.Serializer, withIdentifier identifier: ASN1Identifier) throws {
        try coder.appendConstructedNode(identifier: identifier) { coder in
            try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(salt)))
            try coder.serialize(cost)
            try coder.serialize(blockSize)
            try coder.serialize(parallelization)
            if let keyLength { try coder.serialize(keyLength) }
        }
    }
}
