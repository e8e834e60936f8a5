import Foundation

/// A throwaway PostgreSQL cluster (scripts/postgres) in a temporary directory: started by
/// `init`, its processes stopped and its files removed by `stop`. Shared by the catalogue's
/// tests and the command line's.
public struct PostgresCluster: Sendable {
    public let directory: String
    /// `postgres://sealdrop:PASSWORD@127.0.0.1:PORT/sealdrop`
    public let url: String

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/postgres").path

    public init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-pg-\(UUID().uuidString)").path
        let (status, output) = try Self.run(["start", directory])
        guard status == 0, let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://") else {
            _ = try? Self.run(["stop", directory])
            throw ClusterFailure(message: "scripts/postgres start failed (\(status)): \(output)")
        }
        self.url = url
    }

    public func stop() { _ = try? Self.run(["stop", directory]) }

    struct ClusterFailure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    private static func run(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
