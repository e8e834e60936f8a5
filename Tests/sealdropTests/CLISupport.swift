import Foundation

/// The sealdrop binary built beside this test bundle.
let sealdropBinary: String = {
    let directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    let candidates = [directory, directory.deletingLastPathComponent()].map { $0.appendingPathComponent("sealdrop").path }
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        fatalError("sealdrop binary not found beside the tests (looked in \(candidates))")
    }
    return found
}()

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Killed by a signal (a trap), rather than exiting with `status`.
    var signalled = false
}

/// A scratch directory in which commands run, removed by `cleanup()`.
struct Workspace {
    let url: URL
    /// Set for every command run here, over the test process's own (a token's SOFTHSM2_CONF).
    var environment: [String: String] = [:]

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sealdrop-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func cleanup() { try? FileManager.default.removeItem(at: url) }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    /// Every entry in the workspace (recursively), to prove nothing stray was left.
    func listing() -> [String] {
        (FileManager.default.subpaths(atPath: url.path) ?? []).sorted()
    }

    /// The envelopes the server at `root` stored (`root/blobs/ab/HASH.seal`).
    func storedBlobs(root: String = "root") throws -> [String] {
        (FileManager.default.subpaths(atPath: path(root + "/blobs")) ?? []).filter { $0.hasSuffix(".seal") }
            .map { path(root + "/blobs/" + $0) }
    }

    func read(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    func write(_ text: String, to name: String) throws {
        try text.write(toFile: path(name), atomically: true, encoding: .utf8)
    }

    /// Runs `sealdrop ARGS` in the workspace with SEALDROP_PASSPHRASE set unless `passphrase` is nil.
    /// `detached` runs it without a controlling terminal (as cron does).
    @discardableResult
    func sealdrop(_ arguments: [String], passphrase: String? = "test passphrase", detached: Bool = false) throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        environment["SEALDROP_PASSPHRASE"] = passphrase
        return try run(detached ? ["/usr/bin/setsid", "-w", sealdropBinary] + arguments : [sealdropBinary] + arguments,
                       environment: environment)
    }

    /// Runs a bash script in the workspace, the binary in `$SEALDROP`, with SEALDROP_PASSPHRASE
    /// set unless `passphrase` is nil: pipes and redirections as a user types them.
    @discardableResult
    func shell(_ script: String, passphrase: String? = "test passphrase") throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        environment["SEALDROP_PASSPHRASE"] = passphrase
        environment["SEALDROP"] = sealdropBinary
        return try run(["/bin/bash", "-o", "pipefail", "-c", script], environment: environment)
    }

    /// Starts `sealdrop ARGS` in the background (as uid `user` when given); the caller must `stop()` it.
    func start(_ arguments: [String], home: String? = nil, user: uid_t? = nil) throws -> Background {
        var environment = ProcessInfo.processInfo.environment
        environment["SEALDROP_PASSPHRASE"] = "test passphrase"
        if let home { environment["SEALDROP_HOME"] = path(home) }
        return try Background(command: Self.asUser(user) + [sealdropBinary] + arguments, directory: url,
                              environment: environment.merging(self.environment) { $1 })
    }

    /// Runs `sealdrop ARGS` with SEALDROP_HOME set to the workspace folder `home`, as uid
    /// `user` when given (the caller runs as root).
    @discardableResult
    func sealdrop(_ arguments: [String], home: String, user: uid_t? = nil) throws -> Run {
        var environment = ProcessInfo.processInfo.environment
        environment["SEALDROP_PASSPHRASE"] = "test passphrase"
        environment["SEALDROP_HOME"] = path(home)
        return try run(Self.asUser(user) + [sealdropBinary] + arguments, environment: environment)
    }

    /// Runs any command as uid `user` (with that gid, no other groups).
    func run(as user: uid_t, _ command: [String]) throws -> Run {
        try run(Self.asUser(user) + command, environment: ProcessInfo.processInfo.environment)
    }

    static func asUser(_ user: uid_t?) -> [String] {
        guard let user else { return [] }
        return ["/usr/bin/setpriv", "--reuid", "\(user)", "--regid", "\(user)", "--clear-groups"]
    }

    /// `server init root` (2048-bit keys), then for each user a key pair (`NAME.key`), a
    /// request and a certificate (`NAME.crt`) issued by hand, as an administrator would.
    func rootWithUsers(_ users: [String]) throws {
        try sealdrop(["server", "init", "root", "--bits", "2048"])
        for user in users {
            try sealdrop(["keygen", "--out", user, "--bits", "2048"])
            try sealdrop(["request", "--key", "\(user).key", "--user", user, "-o", "\(user).csr"])
            try sealdrop(["server", "issue", "root", "\(user).csr", "-o", "\(user).crt"])
        }
    }

    /// `server init root` with a `watch` daemon on it (the caller stops it), and each user
    /// registered through the drop with the profile in the workspace folder of its name.
    func watchedRootWithRegistered(_ users: [String]) throws -> Background {
        try startServer(.directory, registering: users).daemon
    }

    /// `server init root` and the daemon clients reach it through (the caller stops it):
    /// `server watch` for the directory, `server serve` on a free loopback port for HTTPS.
    /// Each user is registered, the profile in the workspace folder of its name. Returns the
    /// daemon and the `--server` value clients use.
    func startServer(_ transport: Transport, registering users: [String] = []) throws -> (daemon: Background, server: String) {
        try sealdrop(["server", "init", "root", "--bits", "2048"])
        let daemon: Background, server: String
        switch transport {
        case .directory:
            daemon = try start(["server", "watch", "root", "--rescan", "1"])
            server = "root"
        case .https:
            daemon = try start(["server", "serve", "root", "--listen", "127.0.0.1:0", "--rescan", "1"])
            guard let line = daemon.waitForLines(1).first, line.hasPrefix("listening on https://127.0.0.1:") else {
                daemon.stop()
                throw UsageError(message: "server serve did not start")
            }
            server = String(line.dropFirst("listening on ".count))
        }
        for user in users {
            let run = try sealdrop(["register", "--server", server, "--user", user, "--bits", "2048"], home: user)
            guard run.status == 0 else { daemon.stop(); throw UsageError(message: "register \(user): \(run.stderr)") }
        }
        return (daemon, server)
    }

    /// `sealdrop gallery` for the profile in `home` (the caller stops it), and the address it printed.
    func startGallery(home: String) throws -> (Background, String) {
        let gallery = try start(["gallery"], home: home)
        guard let line = gallery.waitForLines(1).first, line.hasPrefix("gallery on "), let url = line.split(separator: " ").last else {
            gallery.stop()
            throw UsageError(message: "sealdrop gallery did not start: \(gallery.errorText)")
        }
        return (gallery, String(url))
    }

    /// The fingerprint of root/ca.crt, as the administrator hands it out.
    func caFingerprint() throws -> String {
        let show = try sealdrop(["cert", "show", "root/ca.crt", "--json"])
        guard let fingerprint = (try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])?["fingerprint"] as? String else {
            throw UsageError(message: "cert show printed no fingerprint: \(show.stderr)")
        }
        return fingerprint
    }

    func openssl(_ arguments: [String]) throws -> Run {
        try run(["/usr/bin/env", "openssl"] + arguments, environment: ProcessInfo.processInfo.environment)
    }

    /// One raw HTTP/1.1 request over TLS to `server` (an https:// URL), through openssl
    /// s_client trusting root/ca.crt, optionally with a client certificate; returns what came back.
    func https(_ server: String, _ request: String, certificate: (crt: String, key: String)? = nil) throws -> String {
        let address = String(server.dropFirst("https://".count))
        var command = ["/usr/bin/env", "openssl", "s_client", "-quiet", "-connect", address, "-servername", "localhost",
                       "-CAfile", "root/ca.crt", "-verify_return_error"]
        if let certificate { command += ["-cert", certificate.crt, "-key", certificate.key, "-pass", "pass:test passphrase"] }
        let run = try run(command, environment: ProcessInfo.processInfo.environment, input: Data(request.utf8))
        return run.stdout
    }

    private func run(_ command: [String], environment: [String: String], input: Data? = nil) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = url
        process.environment = environment.merging(self.environment) { $1 }
        let stdin = Pipe()
        process.standardInput = input == nil ? FileHandle.nullDevice : stdin
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self),
            signalled: process.terminationReason == .uncaughtSignal)
    }
}

/// A sealdrop process running in the background, its standard output collected as it comes.
final class Background: @unchecked Sendable {
    // `output` is guarded by `lock`; the process handle is only used from the test.
    private let process = Process()
    private let lock = NSLock()
    private var output = Data()
    private var errors = Data()

    init(command: [String], directory: URL, environment: [String: String]) throws {
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.currentDirectoryURL = directory
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe(), errorPipe = Pipe()
        process.standardOutput = pipe
        process.standardError = errorPipe
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.withLock { self.output.append(data) }
        }
        errorPipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self else { return }
            self.lock.withLock { self.errors.append(data) }
        }
        try process.run()
    }

    var lines: [String] {
        lock.withLock { String(decoding: output, as: UTF8.self) }.split(separator: "\n").map(String.init)
    }

    /// What it wrote to standard error so far.
    var errorText: String { lock.withLock { String(decoding: errors, as: UTF8.self) } }

    /// Waits up to `timeout` seconds (a liveness bound) for a line holding `text`: output is
    /// read on another thread, so the last of it may come after the process has ended.
    func waitForLine(containing text: String, timeout: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !lines.contains(where: { $0.contains(text) }), Date() < deadline { usleep(20_000) }
        return lines.contains { $0.contains(text) }
    }

    /// Waits up to `timeout` seconds (a liveness bound, not a speed check) for `count` lines.
    func waitForLines(_ count: Int, timeout: Double = 60) -> [String] {
        let deadline = Date().addingTimeInterval(timeout)
        while lines.count < count, Date() < deadline { usleep(50_000) }
        return lines
    }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    func stop() -> Int32 {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits up to `seconds` (a liveness bound) for the process to end by itself, then stops
    /// it with SIGTERM; returns the exit status.
    func stop(waitingFor seconds: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { usleep(50_000) }
        return stop()
    }

    /// Sends SIGINT (Ctrl-C) and waits; returns the exit status.
    @discardableResult
    func interrupt() -> Int32 {
        if process.isRunning { process.interrupt() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Sends SIGKILL and waits.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { if process.isRunning { process.interrupt(); process.terminate() } }
}

/// How clients reach the server in a test: the same flows run over both.
enum Transport: String, CaseIterable, Sendable, CustomStringConvertible {
    case directory, https
    var description: String { rawValue }
}

/// A test setup step that failed.
struct UsageError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
