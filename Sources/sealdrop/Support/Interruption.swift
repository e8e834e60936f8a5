import ArgumentParser
import Foundation
import SealEnvelope

/// Ctrl-C (SIGINT) and SIGTERM during a batch. The first stops new work: the files in hand
/// finish, the rest are reported as not started, and the command exits 130. The second
/// exits at once with 130; outputs in progress are unnamed files, so nothing half-written
/// is left either way.
final class Interruption: @unchecked Sendable {
    // `count` is guarded by `lock`; `sources` is set once in `init`.
    private let lock = NSLock()
    private var count = 0
    private var sources: [DispatchSourceSignal] = []

    init() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [unowned self] in signalled() }
            source.resume()
            sources.append(source)
        }
    }

    var stopped: Bool { lock.withLock { count > 0 } }

    private func signalled() {
        let n = lock.withLock {
            count += 1
            return count
        }
        guard n == 1 else { _exit(130) }
        let clear = isatty(STDERR_FILENO) == 1 ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data(
            "\(clear)sealdrop: interrupted: finishing the files in hand (Ctrl-C again to stop at once)\n".utf8))
    }

    /// After the batch: when it was interrupted, says what is left and exits 130.
    func exitIfStopped(_ results: [BatchResult]) throws {
        guard stopped else { return }
        let left = results.filter { if case .skipped(.interrupted) = $0.outcome { true } else { false } }.count
        FileHandle.standardError.write(Data((
            "sealdrop: interrupted: \(results.count - left) of \(results.count) handled, \(left) not started\n"
            + "hint: run the same command again to resume; what is done is kept and skipped\n").utf8))
        throw ExitCode(130)
    }
}
