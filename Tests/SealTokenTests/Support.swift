import Foundation
import GcryptKit
import SealPKI
import SealToken

let repositoryDirectory = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
let fixturesDirectory = repositoryDirectory.appendingPathComponent("fixtures")

/// Runs `executable` with `arguments`; returns its status and output.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
}

/// The SoftHSM tokens of this test process, made by scripts/softhsm in a temporary directory
/// before the module is first loaded (SoftHSM reads SOFTHSM2_CONF once, and sees only the
/// tokens that exist then). Each test uses its own token, so logins and labels do not meet.
enum SoftHSM {
    static let pin = SecretBytes(Array("123456".utf8))
    static let labels = ["keys", "usage", "import", "vectors", "pin", "labels", "parallel", "openssl"]
    static let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-softhsm-\(getpid())").path

    /// The module path, after the tokens are made.
    static let module: String = {
        let script = repositoryDirectory.appendingPathComponent("scripts/softhsm").path
        let made = try! run(script, ["init", directory] + labels)
        precondition(made.status == 0, "scripts/softhsm init failed: \(made.stderr)")
        setenv("SOFTHSM2_CONF", made.stdout.trimmingCharacters(in: .whitespacesAndNewlines), 1)
        atexit { try? FileManager.default.removeItem(atPath: SoftHSM.directory) }
        let module = try! run(script, ["module"])
        precondition(module.status == 0, "scripts/softhsm module failed: \(module.stderr)")
        return module.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// The token `label`, logged in.
    static func token(_ label: String) throws -> Token {
        let token = try TokenModule.load(module).token(labelled: label)
        try token.login(pin: pin)
        return token
    }
}
