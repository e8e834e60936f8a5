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

/// `--name`, checked when the command line is parsed, so that a bad name is a usage error.
enum ImageNameOption {
    static func validate(_ name: String?) throws {
        guard let name, let broken = EnvelopeHeader.nameRuleBroken(EnvelopeHeader.normalizedName(name)) else { return }
        throw ValidationError("--name \(name): an image name \(broken)")
    }

    /// `--name` names one image: not every image of a folder.
    static func check(_ name: String?, items: [BatchItem], input: String) throws {
        guard name != nil, items.count != 1 else { return }
        throw UsageFailure(message: "--name names one image, and \(input) holds \(items.count)",
                           hint: "leave --name out to keep each file's own name")
    }
}
