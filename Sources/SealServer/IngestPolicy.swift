import DropProtocol
import Foundation

/// The limits ingestion enforces (docs/SERVER.md).
public struct IngestPolicy: Sendable {
    /// Larger drops are quarantined unread.
    public var maximumBytes: Int = Inbox.defaultMaximumDropBytes
    /// Envelopes created longer ago than this are refused as stale (replay window).
    public var maximumAge: TimeInterval = 24 * 3600
    /// Envelopes dated further in the future than this are refused (clock skew allowance).
    public var maximumFutureSkew: TimeInterval = 5 * 60
    /// Fetch answers and rejection notes not collected within this time are removed.
    public var outboxLifetime: TimeInterval = 24 * 3600
    /// Envelopes verified and stored before one catalogue transaction commits them all: one
    /// fsync pass, one commit and one signed log head per batch. A bundle holds up to 1,024.
    public var batchSize: Int = 1024
    /// Bytes of drops claimed for one batch (at least one drop is): each is copied into
    /// work/ until its batch is done, so this bounds the room a batch takes twice.
    public var batchBytes: Int = 256 << 20
    /// Fetch answers a user may leave uncollected; past it, requests are answered with a
    /// refusal (each answer is a hard link to a blob, so the limit is on files, not bytes).
    public var maximumPendingAnswers: Int = 64
    /// Bytes one uid may have waiting in `inbox/new`; drops past it (newest first) are
    /// refused and removed unread, so no user can fill the server's disk through the inbox.
    public var maximumPendingBytesPerUser: Int = 1 << 30

    public init() {}
}
