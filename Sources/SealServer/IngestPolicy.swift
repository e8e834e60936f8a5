import Foundation

/// The limits ingestion enforces (docs/SERVER.md).
public struct IngestPolicy: Sendable {
    /// Larger drops are quarantined unread.
    public var maximumBytes: Int = 256 << 20
    /// Envelopes created longer ago than this are refused as stale (replay window).
    public var maximumAge: TimeInterval = 24 * 3600
    /// Envelopes dated further in the future than this are refused (clock skew allowance).
    public var maximumFutureSkew: TimeInterval = 5 * 60
    /// Fetch answers and rejection notes not collected within this time are removed.
    public var outboxLifetime: TimeInterval = 24 * 3600
    /// Envelopes verified and stored before one catalogue transaction commits them all.
    public var batchSize: Int = 64

    public init() {}
}
