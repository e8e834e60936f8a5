import Foundation
import SealPKI

/// One file of a batch: where it comes from and where its result goes.
public struct BatchItem: Sendable, Equatable {
    public let input: String
    /// The output path, or the output directory when the name is only known after reading
    /// (opening names the file after the envelope's header).
    public let output: String
    /// Found by walking a directory (rather than named on the command line).
    public let discovered: Bool

    public init(input: String, output: String, discovered: Bool) {
        self.input = input
        self.output = output
        self.discovered = discovered
    }
}

/// Turns command-line arguments (files and directories) into batch items, mirroring each
/// directory's tree under the output directory.
public enum BatchPlan {
    public struct Conflict: Error, CustomStringConvertible {
        public let output: String
        public let first: String
        public let second: String
        public var description: String { "\(first) and \(second) would both be written to \(output)" }
    }

    /// Regular files under `arguments` (directories walked recursively, hidden entries and
    /// symlinks skipped), each mapped by `outputName` to a path under `outputDirectory`.
    /// Missing arguments are returned as items too, so the batch reports them as failures.
    /// Two inputs mapped to one output are refused (`Conflict`) unless `allowSharedOutput`,
    /// for batches whose output is a directory.
    public static func items(
        for arguments: [String], outputDirectory: String, allowSharedOutput: Bool = false,
        outputName: (String) -> String
    ) throws -> [BatchItem] {
        var items: [BatchItem] = []
        var claimed: [String: String] = [:]
        func add(_ input: String, relative: String, discovered: Bool) throws {
            let output = PathText.join(outputDirectory, outputName(relative))
            if !allowSharedOutput, let first = claimed[output] { throw Conflict(output: output, first: first, second: input) }
            claimed[output] = input
            items.append(BatchItem(input: input, output: output, discovered: discovered))
        }
        for argument in arguments {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue {
                for relative in try walk(argument) {
                    try add(PathText.join(argument, relative), relative: relative, discovered: true)
                }
            } else {
                try add(argument, relative: PathText.lastComponent(of: argument), discovered: false)
            }
        }
        return items
    }

    /// Relative paths of the regular files under `directory`, sorted, without hidden entries
    /// or symlinks.
    static func walk(_ directory: String) throws -> [String] {
        guard let enumerator = FileManager.default.enumerator(
            at: URL(fileURLWithPath: directory), includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey],
            options: [.skipsHiddenFiles])
        else { return [] }
        let base = URL(fileURLWithPath: directory).standardizedFileURL.path
        var found: [String] = []
        for case let url as URL in enumerator {
            let values = try url.resourceValues(forKeys: [.isRegularFileKey, .isSymbolicLinkKey])
            guard values.isRegularFile == true, values.isSymbolicLink != true else { continue }
            let path = url.standardizedFileURL.path
            found.append(String(path.dropFirst(base.count).drop(while: { $0 == "/" })))
        }
        return found.sorted()
    }
}
