import ArgumentParser
import Foundation

/// `-q` and `-v`, on every command.
struct VerbosityOptions: ParsableArguments {
    @Flag(name: [.customShort("q"), .long], help: "Print only errors and the data asked for: no summaries, no progress.")
    var quiet = false

    @Flag(name: [.customShort("v"), .long], help: "Print more: each file of a batch, the files and server used, debug logs.")
    var verbose = false

    func validate() throws {
        if quiet, verbose { throw ValidationError("-q and -v contradict each other: give one") }
    }

    var level: Verbosity { quiet ? .quiet : verbose ? .verbose : .normal }
}

/// How much a command prints besides its data and its errors.
enum Verbosity: Int, Sendable {
    case quiet, normal, verbose

    // Set once by `Reporting.run` before the command starts, read from any thread.
    private nonisolated(unsafe) static var level = Verbosity.normal
    private static let lock = NSLock()

    static var current: Verbosity {
        get { lock.withLock { level } }
        set { lock.withLock { level = newValue } }
    }
}

/// An informational line on standard output (a summary, what was written): not with -q.
func say(_ text: String) {
    guard Verbosity.current != .quiet else { return }
    print(text)
}

/// A line only -v wants.
func detail(_ text: String) {
    guard Verbosity.current == .verbose else { return }
    print(text)
}
