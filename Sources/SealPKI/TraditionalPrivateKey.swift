import Foundation
import GcryptKit

/// openssl's traditional encrypted key files (`openssl genrsa -aes256`, `openssl rsa
/// -traditional`, OpenSSL 1.x): PKCS#1 RSAPrivateKey in PEM with RFC 1421 headers,
///
///     -----BEGIN RSA PRIVATE KEY-----
///     Proc-Type: 4,ENCRYPTED
///     DEK-Info: AES-256-CBC,<IV in hex>
///
///     <base64>
///     -----END RSA PRIVATE KEY-----
///
/// encrypted in CBC mode under EVP_BytesToKey(MD5, passphrase, first 8 bytes of the IV).
/// Read so that keys people already have can be brought in; never written (the KDF is one
/// MD5, far weaker than the scrypt of sealdrop's own files).
enum TraditionalPrivateKey {
    static let begin = "-----BEGIN RSA PRIVATE KEY-----"
    static let end = "-----END RSA PRIVATE KEY-----"

    static let ciphers: [String: Legacy.Cipher] = [
        "AES-128-CBC": .aes128CBC, "AES-192-CBC": .aes192CBC, "AES-256-CBC": .aes256CBC, "DES-EDE3-CBC": .tripleDESCBC,
    ]

    /// True when `text` is a traditional RSA key with headers (encrypted, or claiming to be).
    static func hasHeaders(_ text: String) -> Bool {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.firstIndex(of: begin), first + 1 < lines.count else { return false }
        return lines[first + 1].hasPrefix("Proc-Type:")
    }

    static func decrypt(_ text: String, passphrase: SecretBytes) throws -> RSA.PrivateKey {
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let first = lines.firstIndex(of: begin), let last = lines.firstIndex(of: end), first + 3 < last else {
            throw PKIError.malformed("traditional RSA PRIVATE KEY file")
        }
        var headers: [String: String] = [:]
        var index = first + 1
        while index < last, !lines[index].isEmpty {
            guard let colon = lines[index].firstIndex(of: ":") else { throw PKIError.malformed("traditional key header \(lines[index])") }
            headers[String(lines[index][..<colon])] = lines[index][lines[index].index(after: colon)...].trimmingCharacters(in: .whitespaces)
            index += 1
        }
        guard headers["Proc-Type"] == "4,ENCRYPTED" else {
            throw PKIError.unsupportedAlgorithm("traditional key with Proc-Type \(headers["Proc-Type"] ?? "missing")")
        }
        let dek = (headers["DEK-Info"] ?? "").split(separator: ",").map(String.init)
        guard dek.count == 2, let cipher = ciphers[dek[0].uppercased()] else {
            throw PKIError.unsupportedAlgorithm("traditional key encryption \(headers["DEK-Info"] ?? "missing") "
                                                + "(read: AES-128/192/256-CBC, DES-EDE3-CBC)")
        }
        guard let iv = [UInt8](hexString: dek[1]), iv.count == cipher.blockByteCount else {
            throw PKIError.malformed("traditional key DEK-Info IV")
        }
        guard let ciphertext = Data(base64Encoded: lines[(index + 1)..<last].joined()) else {
            throw PKIError.malformed("traditional key base64")
        }
        let key = Legacy.bytesToKey(password: passphrase, salt: Array(iv.prefix(8)), count: cipher.keyByteCount)
        return try PrivateKeyInfo.decodeDecrypted(
            try Legacy.decryptCBC(Array(ciphertext), cipher: cipher, key: key, iv: iv), PrivateKeyInfo.decodeRSA)
    }
}
