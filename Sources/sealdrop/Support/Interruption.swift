import ArgumentParser
import Foundation
import SealEnvelope
import SealPKI

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

/// The output folders a batch makes, so that a batch in which nothing was written leaves none
/// behind; existing ones are cleared of partial files a killed run left.
final class OutputFolders: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var created: [String] = []
    private var checked: Set<String> = []

    /// `-o` must name a folder (or a path where one can be made), not a file.
    static func checkUsable(_ directory: String, option: String = "-o") throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue else { return }
        throw UsageFailure(message: "\(directory) exists and is not a folder",
                           hint: "\(option) names the output folder: choose another path, or - for standard output")
    }

    /// Makes `directory` and any missing parents.
    func prepare(_ directory: String) throws {
        try lock.withLock {
            guard !checked.contains(directory) else { return }
            var missing: [String] = []
            var path = directory
            while !path.isEmpty, !FileManager.default.fileExists(atPath: path) {
                missing.append(path)
                let parent = PathText.directory(of: path)
                if parent == path { break }
                path = parent
            }
            if missing.isEmpty { FileSink.removeAbandoned(in: directory) }
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            created += missing
            checked.insert(directory)
        }
    }

    /// Removes the folders made here that are still empty, deepest first.
    func removeEmpty() {
        lock.withLock {
            for path in created.sorted(by: { $0.count > $1.count }) { rmdir(path) }
        }
    }
}
