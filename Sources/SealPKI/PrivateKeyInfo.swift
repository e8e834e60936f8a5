import GcryptKit
import SwiftASN1

/// PKCS#8 PrivateKeyInfo (RFC 5208) around PKCS#1 RSAPrivateKey (RFC 8017 A.1.2).
///
/// Only ever held in memory: sealdrop writes it encrypted (`EncryptedPrivateKey`).
enum PrivateKeyInfo {
    static func encode(_ key: RSA.PrivateKey) throws -> SecretBytes {
        var c = key.components
        defer { c.zeroize() }
        var rsa = try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(0)
                for field in [c.modulus, c.publicExponent, c.privateExponent, c.prime1, c.prime2,
                              c.exponent1, c.exponent2, c.coefficient] {
                    try coder.serialize(ArraySlice(field))
                }
            }
        }
        defer { Memory.zero(&rsa) }
        var info = try DERBytes.encode { coder in
            try coder.appendConstructedNode(identifier: .sequence) { coder in
                try coder.serialize(0)
                try coder.serialize(AlgorithmIdentifier.rsaEncryption)
                try coder.serialize(ASN1OctetString(contentBytes: ArraySlice(rsa)))
            }
        }
        defer { Memory.zero(&info) }
        return SecretBytes(info)
    }

    static func decode(_ der: [UInt8]) throws -> RSA.PrivateKey {
        let root: ASN1Node
        do { root = try DER.parse(der) } catch { throw PKIError.malformed("private key (PKCS#8)") }
        let rsaDER: [UInt8]
        do {
            rsaDER = try DER.sequence(root, identifier: .sequence) { nodes in
                guard try Int(derEncoded: &nodes) == 0 else { throw PKIError.malformed("private key version") }
                let algorithm = try AlgorithmIdentifier(derEncoded: &nodes)
                guard algorithm.algorithm == OID.rsaEncryption, algorithm.hasNullOrAbsentParameters else {
                    throw PKIError.unsupportedAlgorithm("private key type \(algorithm.algorithm) (only RSA)")
                }
                let octets = try ASN1OctetString(derEncoded: &nodes)
                // Optional attributes [0] and public key [1] (RFC 5958) are ignored.
                while nodes.next() != nil {}
                return Array(octets.bytes)
            }
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.malformed("private key (PKCS#8)")
        }
        return try decodeRSA(rsaDER)
    }

    /// A key just decrypted under a passphrase, decoded with `decode`; the plaintext is zeroed.
    /// Bad padding (nil) and a malformed key are both a wrong passphrase: a wrong one that
    /// happens to leave valid padding lands on the second.
    static func decodeDecrypted(_ plaintext: [UInt8]?, _ decode: ([UInt8]) throws -> RSA.PrivateKey) throws -> RSA.PrivateKey {
        guard var plaintext else { throw PKIError.wrongPassphrase }
        defer { Memory.zero(&plaintext) }
        do {
            return try decode(plaintext)
        } catch PKIError.malformed {
            throw PKIError.wrongPassphrase
        }
    }

    /// PKCS#1 RSAPrivateKey (what PKCS#8 wraps, and what openssl's traditional files hold).
    static func decodeRSA(_ rsaDER: [UInt8]) throws -> RSA.PrivateKey {
        var components: RSA.PrivateKey.Components
        do {
            components = try DER.sequence(try DER.parse(rsaDER), identifier: .sequence) { nodes in
                guard try Int(derEncoded: &nodes) == 0 else { throw PKIError.unsupportedAlgorithm("multi-prime RSA") }
                var fields: [[UInt8]] = []
                for _ in 0..<8 { fields.append(Array(try ArraySlice<UInt8>(derEncoded: &nodes))) }
                return RSA.PrivateKey.Components(
                    modulus: fields[0], publicExponent: fields[1], privateExponent: fields[2], prime1: fields[3],
                    prime2: fields[4], exponent1: fields[5], exponent2: fields[6], coefficient: fields[7])
            }
        } catch let error as PKIError {
            throw error
        } catch {
            throw PKIError.malformed("RSA private key (PKCS#1)")
        }
        defer { components.zeroize() }
        do {
            return try RSA.PrivateKey(components: components)
        } catch CryptoError.invalidKey(let why) {
            throw PKIError.rejectedKey(why)
        }
    }
}
