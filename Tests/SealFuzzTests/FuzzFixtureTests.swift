import Foundation
import Testing
import SealFuzz

let fuzzFixtures = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("fixtures")

/// Every file under fixtures/fuzz/TARGET (the seeds, and every crash a fuzzer found, kept as
/// a fixture) goes through its target again: each must return or throw, never trap. A trap
/// here brings down the test process, which fails the run.
@Suite struct FuzzFixtureTests {
    static let targets = FuzzTargets.all.keys.sorted()

    @Test(arguments: targets)
    func everyFixtureIsHandled(target: String) throws {
        try FuzzTargets.prepare(fixtures: fuzzFixtures.path)
        let directory = fuzzFixtures.appendingPathComponent("fuzz/\(target)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        #expect(!files.isEmpty, "every target has seeds in fixtures/fuzz/\(target)")
        let run = try #require(FuzzTargets.all[target])
        for file in files {
            _ = try? run(Array(try Data(contentsOf: directory.appendingPathComponent(file))))
        }
    }

    /// The seeds are real inputs: each target accepts at least one of its own.
    @Test(arguments: ["envelope", "bundle", "armor", "x509", "x509-pem", "pkcs8", "traditional-key", "pkcs10", "pem", "notifications", "pkcs11-uri"])
    func seedsAreAccepted(target: String) throws {
        try FuzzTargets.prepare(fixtures: fuzzFixtures.path)
        let directory = fuzzFixtures.appendingPathComponent("fuzz/\(target)")
        let run = try #require(FuzzTargets.all[target])
        let accepted = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { file in
            file.hasPrefix("seed-") && (try? run(Array(try Data(contentsOf: directory.appendingPathComponent(file))))) != nil
        }
        #expect(!accepted.isEmpty, "no seed of \(target) parses")
    }
}
