/// A byte buffer holding key material, zeroed when the last reference goes away.
///
/// Use it for every symmetric key, derived key and decrypted private-key encoding, so that
/// secrets do not linger in freed heap memory.
public final class SecretBytes: @unchecked Sendable {
    // Immutable after init; the storage is only written by deinit.
    private var storage: [UInt8]

    public init(_ bytes: [UInt8]) {
        storage = bytes
    }

    /// `count` fresh random bytes from libgcrypt's CSPRNG.
    public convenience init(randomCount count: Int) {
        self.init(Random.bytes(count: count))
    }

    public var count: Int { storage.count }

    /// A copy of the bytes; the caller owns its lifetime.
    public var bytes: [UInt8] { storage }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    deinit {
        Memory.zero(&storage)
    }
}

/// The two memory utilities every secret path uses.
public enum Memory {
    /// Compares two byte strings in time that depends only on their lengths.
    public static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) {
            difference |= x ^ y
        }
        return difference == 0
    }
}
