import Foundation
import SealFuzz

// Built by scripts/fuzz with `-sanitize=fuzzer -D FUZZING`: libFuzzer calls this for every
// input, and SEALDROP_FUZZ_TARGET names the parser. Built plainly, the same binary replays
// files through a target: `sealdrop-fuzz TARGET FILE...` (how a crash is reproduced).

#if FUZZING
nonisolated(unsafe) private var selected: FuzzTargets.Target?

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    if selected == nil {
        let environment = ProcessInfo.processInfo.environment
        guard let name = environment["SEALDROP_FUZZ_TARGET"], let target = FuzzTargets.all[name] else {
            fatalError("set SEALDROP_FUZZ_TARGET to one of: \(FuzzTargets.all.keys.sorted().joined(separator: ", "))")
        }
        try? FuzzTargets.prepare(fixtures: environment["SEALDROP_FIXTURES"] ?? "fixtures")
        selected = target
    }
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? []
    _ = try? selected?(bytes)
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

// SwiftPM links an executable's entry point under this name; hand it to libFuzzer's driver.
@_cdecl("sealdrop_fuzz_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments) { fuzzOne($0, $1) }
}
#else
@main
struct Replay {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = FuzzTargets.all[name] else {
            FileHandle.standardError.write(Data("usage: sealdrop-fuzz TARGET FILE...\ntargets: \(FuzzTargets.all.keys.sorted().joined(separator: " "))\n".utf8))
            exit(2)
        }
        try FuzzTargets.prepare(fixtures: ProcessInfo.processInfo.environment["SEALDROP_FIXTURES"] ?? "fixtures")
        for file in arguments.dropFirst() {
            let outcome: String
            do {
                try target(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
                outcome = "accepted"
            } catch {
                outcome = "refused: \(error)"
            }
            print("\(file): \(outcome)")
        }
    }
}
#endif
