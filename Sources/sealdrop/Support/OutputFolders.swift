import Foundation
import SealEnvelope
import SealPKI

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
