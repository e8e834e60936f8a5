import Foundation

/// Wake-ups for any number of async listeners (a gateway's live log streams, a gallery's
/// pages): each listener keeps only the latest update it has not read, since it reads what is
/// new from its own cursor, so a slow listener never holds memory for the others.
public final class Broadcast<Update: Sendable>: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var listeners: [UUID: AsyncStream<Update>.Continuation] = [:]

    public init() {}

    public var count: Int { lock.withLock { listeners.count } }

    /// A stream of updates from now on, and the id that ends it.
    public func subscribe() -> (id: UUID, updates: AsyncStream<Update>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Update>.makeStream(bufferingPolicy: .bufferingNewest(1))
        lock.withLock { listeners[id] = continuation }
        return (id, stream)
    }

    public func unsubscribe(_ id: UUID) {
        lock.withLock { listeners.removeValue(forKey: id) }?.finish()
    }

    public func send(_ update: Update) {
        for continuation in lock.withLock({ Array(listeners.values) }) { continuation.yield(update) }
    }

    /// Ends every stream (shutting down).
    public func finishAll() {
        let ended = lock.withLock {
            defer { listeners.removeAll() }
            return Array(listeners.values)
        }
        for continuation in ended { continuation.finish() }
    }
}
