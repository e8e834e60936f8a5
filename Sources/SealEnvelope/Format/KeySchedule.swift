import GcryptKit

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
