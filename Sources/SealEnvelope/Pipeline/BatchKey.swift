import Foundation
import GcryptKit
import SealPKI

/// A batch key (FORMAT.md §5.1): 32 random bytes wrapped once for one recipient, from which
/// every envelope of the batch derives its own content key from its envelope id. The
/// recipient unwraps once per batch; each envelope still opens alone, and its content key
/// (what a fetch answer hands on) reveals neither the batch key nor another envelope's key.
public struct BatchKey: Sendable {
    let secret: SecretBytes
    /// RSAES-OAEP of `secret` for the recipient, labelled with `KeySchedule.batchLabel`.
    let wrapped: [UInt8]
    let recipient: [UInt8]
    let sender: Certificate

    /// A fresh batch key for envelopes from `sender` to `recipient`: one RSA operation.
    public init(recipient: any Recipient, sender: Certificate) throws {
        secret = SecretBytes(randomCount: KeySchedule.contentKeyLength)
        self.recipient = recipient.fingerprint
        self.sender = sender
        wrapped = try recipient.wrap(secret, label: KeySchedule.batchLabel(recipient: recipient.fingerprint, sender: sender))
    }

    /// The content key of the envelope with `envelopeID`.
    func contentKey(envelopeID: [UInt8]) -> SecretBytes {
        KeySchedule.batchContentKey(batchKey: secret, envelopeID: envelopeID)
    }
}

/// An identity that remembers the batch keys it unwrapped, so that a batch of envelopes
/// costs one RSA operation however many there are. Single-envelope keys are never kept.
/// At most `capacity` batch keys are held (the least recently used goes first); two threads
/// asking for the same batch key at once cost one unwrap, not two.
public final class BatchKeyCache: Identity, @unchecked Sendable {
    public let base: any Identity
    let capacity: Int
    // `entries`, `order` and `unwraps` are guarded by `lock`, which is held across an unwrap
    // of a batch key (one per batch) so that concurrent readers of one batch wait for it.
    private let lock = NSLock()
    private var entries: [[UInt8]: SecretBytes] = [:]
    private var order: [[UInt8]] = []
    private var unwraps = 0

    public init(_ base: any Identity, capacity: Int = 64) {
        self.base = base
        self.capacity = max(1, capacity)
    }

    public var fingerprint: [UInt8] { get throws { try base.fingerprint } }
    public var wrappedKeyLength: Int { get throws { try base.wrappedKeyLength } }

    /// Batch keys unwrapped with the private key so far (not those served from memory).
    public var batchUnwraps: Int { lock.withLock { unwraps } }

    public func unwrap(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes {
        try base.unwrap(wrapped, label: label)
    }

    public func unwrapBatchKey(_ wrapped: [UInt8], label: [UInt8]) throws -> SecretBytes {
        // The label is part of the key: the same wrapped bytes under another sender's label
        // must be unwrapped (and fail) on their own.
        var hasher = SHA256()
        hasher.update(data: label)
        hasher.update(data: wrapped)
        let id = hasher.finalize().bytes
        return try lock.withLock {
            if let known = entries[id] {
                order.removeAll { $0 == id }
                order.append(id)
                return known
            }
            let key = try base.unwrapBatchKey(wrapped, label: label)
            unwraps += 1
            entries[id] = key
            order.append(id)
            if order.count > capacity { entries[order.removeFirst()] = nil }
            return key
        }
    }
}
