import DropProtocol
import Foundation

/// What one client may take of the gateway (docs/HTTP.md, "Conventions"), so no client can
/// hurt the others.
public struct GatewayLimits: Sendable {
    /// The largest upload: the ingester's `--max-size`.
    public var maximumUploadBytes: Int = Inbox.defaultMaximumDropBytes
    /// Uploads one user may have in progress at once.
    public var maximumUploadsPerUser: Int = 8
    /// Requests a second for one user (or, before registration, one address); bursts of twice that.
    public var requestsPerSecond: Double = 100
    /// Open connections, all clients together.
    public var maximumConnections: Int = 4096
    /// Time for a request's head to arrive (from the connection's start or the last response).
    public var headerTimeout: Duration = .seconds(10)
    /// Longest an upload's body may stall without a byte.
    public var bodyStallTimeout: Duration = .seconds(30)
    /// Seconds between keep-alive comments on a live notification stream.
    public var keepAliveInterval: Duration = .seconds(15)

    public init() {}
}

/// Token buckets per client (user name or address) and counts of uploads in flight.
final class ClientLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private var buckets: [String: (tokens: Double, updated: Double)] = [:]
    private var uploads: [String: Int] = [:]
    private let rate: Double
    private let burst: Double
    private let maximumUploads: Int

    init(_ limits: GatewayLimits) {
        rate = limits.requestsPerSecond
        burst = limits.requestsPerSecond * 2
        maximumUploads = limits.maximumUploadsPerUser
    }

    /// Takes one request from `client`'s bucket; nil when allowed, else the seconds to wait.
    func admit(_ client: String, now: Double = ProcessInfo.processInfo.systemUptime) -> Int? {
        lock.withLock {
            var bucket = buckets[client] ?? (burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            defer {
                buckets[client] = bucket
                // Full buckets hold no information: forget them now and then, so the table stays small.
                if buckets.count > 100_000 { buckets = buckets.filter { $0.value.tokens < burst } }
            }
            guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))) }
            bucket.tokens -= 1
            return nil
        }
    }

    /// Counts an upload in for `user`; false when they already have the most allowed.
    func beginUpload(_ user: String) -> Bool {
        lock.withLock {
            guard uploads[user, default: 0] < maximumUploads else { return false }
            uploads[user, default: 0] += 1
            return true
        }
    }

    func endUpload(_ user: String) {
        lock.withLock {
            uploads[user, default: 1] -= 1
            if uploads[user] == 0 { uploads[user] = nil }
        }
    }
}
