import GcryptKit
import SealPKI

/// The keys of one envelope, derived from its content key and header fields (FORMAT.md §5).
struct KeySchedule {
    public static let contentKeyLength = 32

    let encryption: SecretBytes
    let mac: SecretBytes
    let iv: SecretBytes

    /// SHA256("sealdrop-v1 fields" || fields): the OAEP label and the HKDF salt.
    static func fieldsDigest(_ fields: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array("sealdrop-v1 fields".utf8))
        hasher.update(data: fields)
        return hasher.finalize().bytes
    }

    /// The key commitment (§5): depends on the content key only.
    static func commitment(for contentKey: SecretBytes) -> [UInt8] {
        KDF.hkdfSHA256(inputKey: contentKey, salt: [], info: Array("sealdrop-v1 commit".utf8), outputByteCount: 32).bytes
    }

    /// §5.1: the content key of one envelope of a batch, from the batch key and the
    /// envelope's own id.
    static func batchContentKey(batchKey: SecretBytes, envelopeID: [UInt8]) -> SecretBytes {
        KDF.hkdfSHA256(inputKey: batchKey, salt: envelopeID, info: Array("sealdrop-v1 batch content key".utf8),
                       outputByteCount: contentKeyLength)
    }

    /// §5.1: the OAEP label of a wrapped batch key, binding it to its recipient and sender.
    static func batchLabel(recipient: [UInt8], sender: Certificate) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array("sealdrop-v1 batch".utf8))
        hasher.update(data: recipient)
        hasher.update(data: SHA256.hash(data: sender.der).bytes)
        return hasher.finalize().bytes
    }

    init(contentKey: SecretBytes, fieldsDigest: [UInt8]) {
        // HKDF-Expand with three infos from one extract: the extract is repeated per key,
        // which costs three HMACs once per envelope and keeps one HKDF primitive.
        func expand(_ info: String) -> SecretBytes {
            KDF.hkdfSHA256(inputKey: contentKey, salt: fieldsDigest, info: Array(info.utf8), outputByteCount: 32)
        }
        encryption = expand("sealdrop-v1 enc")
        mac = expand("sealdrop-v1 mac")
        iv = expand("sealdrop-v1 iv")
    }
}
