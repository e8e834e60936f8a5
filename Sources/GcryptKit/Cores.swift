import Foundation

/// The cores this process may run on, asked once: Foundation asks the kernel on every call,
/// and a reader that asked per envelope spent more on that than on a small image's AES.
public enum Cores {
    public static let available = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
