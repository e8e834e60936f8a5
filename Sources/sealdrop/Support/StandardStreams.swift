import ArgumentParser
import Foundation
import SealEnvelope

/// `-` as a path: standard input for an input, standard output for `-o`.
enum StandardStreams {
    static let dash = "-"

    /// How errors name `path`.
    static func label(_ path: String) -> String { path == dash ? "standard input" : path }

    /// An envelope to read from `path` or, for `-`, from standard input.
    static func envelope(_ path: String) throws -> FileSource {
        try about(label(path)) {
            path == dash ? try EnvelopeFiles.readingStandardInput() : try EnvelopeFiles.reading(path)
        }
    }

    /// `-` may be the only input: there is one standard input.
    static func validate(inputs: [String], output: String, outputHolds what: String) throws {
        if inputs.contains(dash), inputs.count > 1 {
            throw ValidationError("- (standard input) must be the only input")
        }
        if output == dash, inputs.count != 1 {
            throw ValidationError("-o - writes one \(what) to standard output: give exactly one input")
        }
    }

    /// Binary bytes are not written to a terminal, where they would garble it.
    static func checkBinaryOutput(_ what: String, suggestion: String) throws {
        guard isatty(STDOUT_FILENO) == 1 else { return }
        throw UsageFailure(message: "standard output is a terminal: refusing to write \(what) to it",
                           hint: suggestion)
    }
}
