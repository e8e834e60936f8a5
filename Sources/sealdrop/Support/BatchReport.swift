import ArgumentParser
import Foundation
import GcryptKit
import SealEnvelope

/// The options every batch command shares.
struct BatchOptions: ParsableArguments {
    @Option(help: "Files processed at once.")
    var jobs: Int = Cores.available

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }
}

/// A progress bar on stderr with rate and ETA, drawn only when stderr is a terminal, at
/// most ten times a second.
final class ProgressBar: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private let enabled: Bool
    private let verb: String
    private var lastDraw = 0.0

    init(verb: String, enabled: Bool = isatty(STDERR_FILENO) == 1 && Verbosity.current != .quiet) {
        self.verb = verb
        self.enabled = enabled
    }

    func update(_ p: BatchProgress) {
        guard enabled else { return }
        lock.withLock {
            guard p.completed == p.total || p.elapsed - lastDraw >= 0.1 else { return }
            lastDraw = p.elapsed
            let width = 28
            let filled = p.total == 0 ? width : width * p.completed / p.total
            let rate = p.elapsed > 0 ? Double(p.bytes) / p.elapsed / 1e6 : 0
            let perFile = p.completed > 0 ? p.elapsed / Double(p.completed) : 0
            let eta = Int((Double(p.total - p.completed) * perFile).rounded())
            let line = "\r\(verb) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
                + "\(p.completed)/\(p.total) files  \(String(format: "%.1f", rate)) MB/s  ETA \(eta / 60):\(String(format: "%02d", eta % 60)) "
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    func finish() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}

/// Prints a batch's summary (text or JSON) and says whether every item succeeded.
enum BatchReport {
    /// Prints the summary; returns false when any item failed.
    static func print(_ results: [BatchResult], verb: String, seconds: Double, json: Bool) -> Bool {
        var done = 0, skipped = 0, existing = 0, failed = 0, notStarted = 0
        var bytes: UInt64 = 0
        for result in results {
            switch result.outcome {
            case .done(_, let n): done += 1; bytes += n
            case .skipped(.outputExists), .skipped(.alreadyDone): skipped += 1; existing += 1
            case .skipped(.interrupted): notStarted += 1
            case .skipped: skipped += 1
            case .failed: failed += 1
            }
        }
        if json {
            let items: [[String: Any]] = results.map { result in
                var entry: [String: Any] = ["input": result.item.input]
                switch result.outcome {
                case .done(let output, let n): entry["status"] = "ok"; entry["output"] = output; entry["bytes"] = n
                case .skipped(let reason): entry["status"] = "skipped"; entry["reason"] = reason.description
                case .failed(let error): entry["status"] = "failed"; entry["reason"] = Diagnostics.describe(error).0
                }
                return entry
            }
            printJSON(["verb": verb, "ok": done, "skipped": skipped, "failed": failed, "not_started": notStarted, "bytes": bytes,
                       "seconds": (seconds * 1000).rounded() / 1000, "items": items])
        } else {
            let rate = seconds > 0 ? Double(bytes) / seconds / 1e6 : 0
            say("\(verb) \(done) file\(done == 1 ? "" : "s") (\(formatSize(bytes))) in \(String(format: "%.2f", seconds)) s, "
                        + "\(String(format: "%.1f", rate)) MB/s, \(String(format: "%.1f", seconds > 0 ? Double(done) / seconds : 0)) files/s; "
                        + "\(skipped) skipped\(existing > 0 ? " (\(existing) already done)" : ""), \(failed) failed"
                        + (notStarted > 0 ? ", \(notStarted) not started" : ""))
            for result in results {
                switch result.outcome {
                case .skipped(.notAnImage): say("  skipped \(result.item.input): not an image")
                case .skipped(let reason): detail("  skipped \(result.item.input): \(reason)")
                case .done(let output, let n):
                    detail("  \(verb) \(result.item.input) -> \(output) (\(formatSize(n)), \(String(format: "%.2f", result.seconds)) s)")
                case .failed: break
                }
            }
            for result in results {
                if case .failed(let error) = result.outcome {
                    Diagnostics.report(FileFailure(path: result.item.input, underlying: error))
                }
            }
        }
        return failed == 0
    }

    /// Prints the summary, then ends the command: exit 130 when interrupted, 1 when any
    /// item failed.
    static func finish(_ results: [BatchResult], verb: String, seconds: Double, json: Bool, interruption: Interruption) throws {
        let succeeded = print(results, verb: verb, seconds: seconds, json: json)
        try interruption.exitIfStopped(results)
        guard succeeded else { throw ExitCode.failure }
    }

    static func formatSize(_ bytes: UInt64) -> String {
        let b = Double(bytes)
        return b >= 1e9 ? String(format: "%.2f GB", b / 1e9) : b >= 1e6 ? String(format: "%.1f MB", b / 1e6)
            : b >= 1e3 ? String(format: "%.1f kB", b / 1e3) : "\(bytes) B"
    }
}
