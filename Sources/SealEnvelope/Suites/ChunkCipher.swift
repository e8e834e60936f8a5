import GcryptKit

/// One cipher suite's per-chunk encryption (FORMAT.md §4): the seam where suites are swapped.
public protocol ChunkCipher: Sendable {
    var suite: Suite { get }

    /// Encrypts `chunk` in place (it may grow by padding) and returns its tag.
    func seal(_ chunk: inout [UInt8], index: UInt64, final: Bool) -> [UInt8]

    /// Checks `tag` and only then decrypts `chunk` in place (stripping padding). Any failure
    /// is `EnvelopeError.tampered`, and the chunk is then zeroed.
    func open(_ chunk: inout [UInt8], tag: [UInt8], index: UInt64, final: Bool) throws

    /// The chunk's commitment c_i, which the transcript signs (§4).
    func commitment(ciphertext: [UInt8], tag: [UInt8]) -> [UInt8]
}

enum ChunkCiphers {
    /// The cipher for `suite` under the envelope's keys.
    static func make(_ suite: Suite, keys: KeySchedule) -> any ChunkCipher {
        switch suite {
        case .cbcHMAC: CBCHMACCipher(keys: keys)
        case .gcm: GCMCipher(keys: keys)
        }
    }

    static func flag(_ final: Bool) -> UInt8 { final ? 1 : 0 }
}

/// Suite 1: AES-256-CBC, then HMAC-SHA256 over index, flag, length and ciphertext.
struct CBCHMACCipher: ChunkCipher {
    let keys: KeySchedule
    var suite: Suite { .cbcHMAC }

    private func iv(_ index: UInt64) -> [UInt8] {
        Array(HMACSHA256.authenticationCode(for: index.bigEndianBytes, key: keys.iv).prefix(AES.CBC.ivByteCount))
    }

    private func tag(_ ciphertext: [UInt8], index: UInt64, final: Bool) -> [UInt8] {
        var mac = HMACSHA256(key: keys.mac)
        var w = ByteWriter()
        w.u64(index)
        w.u8(ChunkCiphers.flag(final))
        w.u32(UInt32(ciphertext.count))
        mac.update(data: w.bytes)
        mac.update(data: ciphertext)
        return mac.finalize()
    }

    func seal(_ chunk: inout [UInt8], index: UInt64, final: Bool) -> [UInt8] {
        if final {
            let padding = AES.blockByteCount - chunk.count % AES.blockByteCount
            chunk += [UInt8](repeating: UInt8(padding), count: padding)
        }
        var encryptor = try! AES.CBC.Encryptor(key: keys.encryption, iv: iv(index))
        encryptor.encryptBlocks(&chunk)
        return tag(chunk, index: index, final: final)
    }

    func open(_ chunk: inout [UInt8], tag expected: [UInt8], index: UInt64, final: Bool) throws {
        guard Memory.constantTimeEqual(tag(chunk, index: index, final: final), expected) else {
            throw EnvelopeError.tampered
        }
        guard !chunk.isEmpty, chunk.count % AES.blockByteCount == 0 else { throw EnvelopeError.tampered }
        var decryptor = try! AES.CBC.Decryptor(key: keys.encryption, iv: iv(index))
        decryptor.decryptBlocks(&chunk)
        guard final else { return }
        // Padding is examined only now, after the tag matched: no padding oracle.
        do {
            try AES.CBC.removePadding(&chunk)
        } catch {
            Memory.zero(&chunk)
            throw EnvelopeError.tampered
        }
    }

    func commitment(ciphertext: [UInt8], tag: [UInt8]) -> [UInt8] { tag }
}

/// Suite 2: AES-256-GCM with the nonce flag || 000000 || u64(index).
struct GCMCipher: ChunkCipher {
    let keys: KeySchedule
    var suite: Suite { .gcm }

    private func nonce(_ index: UInt64, _ final: Bool) -> [UInt8] {
        [ChunkCiphers.flag(final), 0, 0, 0] + index.bigEndianBytes
    }

    private func associatedData(_ length: Int, _ final: Bool) -> [UInt8] {
        [ChunkCiphers.flag(final)] + UInt32(length).bigEndianBytes
    }

    func seal(_ chunk: inout [UInt8], index: UInt64, final: Bool) -> [UInt8] {
        var sealer = try! AES.GCM.Sealer(
            key: keys.encryption, nonce: nonce(index, final), associatedData: associatedData(chunk.count, final))
        sealer.encryptFinal(&chunk)
        return sealer.tag()
    }

    func open(_ chunk: inout [UInt8], tag: [UInt8], index: UInt64, final: Bool) throws {
        var opener = try! AES.GCM.Opener(
            key: keys.encryption, nonce: nonce(index, final), associatedData: associatedData(chunk.count, final))
        opener.decryptFinal(&chunk)
        guard opener.isValid(tag: tag) else {
            Memory.zero(&chunk)
            throw EnvelopeError.tampered
        }
    }

    func commitment(ciphertext: [UInt8], tag: [UInt8]) -> [UInt8] { Self.commitment(ciphertext: ciphertext, tag: tag) }

    /// §4: SHA-256 of the chunk's ciphertext and tag; no key is needed to compute it.
    static func commitment(ciphertext: [UInt8], tag: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: ciphertext)
        hasher.update(data: tag)
        return hasher.finalize().bytes
    }
}
