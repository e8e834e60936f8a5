import ArgumentParser
import Foundation
import GcryptKit
import SealBench
import SealEnvelope

extension Sealdrop {
    struct Bench: Reporting {
        static let configuration = CommandConfiguration(
            commandName: "bench",
            abstract: "Measure each primitive's throughput beside libgcrypt's own, in the same run.",
            discussion: """
                Each line times sealdrop's Swift API and the same libgcrypt calls made directly, \
                alternately, and prints both with their ratio (1.00 = libgcrypt's speed). \
                Build with -c release for meaningful figures.

                With --pkcs11-module and --pkcs11-token, RSA signing and unwrapping on the token are \
                measured instead, beside libgcrypt with the same key (imported for the run, then removed).

                Examples:
                  sealdrop bench
                  sealdrop bench --seconds 1 --sizes 64k,1m --json > bench.json
                  SEALDROP_PIN=... sealdrop bench --pkcs11-module /usr/lib/softhsm/libsofthsm2.so --pkcs11-token bench
                """)

        @Option(help: "Seconds spent on each line.")
        var seconds: Double = 1

        @Option(help: ArgumentHelp("Buffer sizes in bytes, comma-separated (suffixes k, m).", valueName: "sizes"))
        var sizes: String = "16k,1m"

        @Option(help: ArgumentHelp("RSA key sizes, comma-separated.", valueName: "bits"))
        var rsaBits: String = "3072"

        @Option(help: ArgumentHelp("Pipeline input sizes, comma-separated (suffixes k, m).", valueName: "sizes"))
        var pipelineSizes: String = "1k,64k,1m,64m"

        @Flag(help: "Only the primitives, not the seal and open pipelines.")
        var primitivesOnly = false

        @Flag(help: "Print one JSON object per line.")
        var json = false

        @OptionGroup var token: TokenOptions
        @OptionGroup var passphrase: PassphraseOptions

        func validate() throws {
            guard seconds > 0 else { throw ValidationError("--seconds must be positive") }
            _ = try parsedSizes(sizes)
            _ = try parsedSizes(pipelineSizes)
            _ = try parsedKeySizes()
        }

        func parsedSizes(_ list: String) throws -> [Int] {
            try list.split(separator: ",").map { item in
                guard let size = ByteSize.parse(item), size % 16 == 0 else {
                    throw ValidationError("\"\(item)\" is not a positive multiple of 16 bytes")
                }
                return size
            }
        }

        func parsedKeySizes() throws -> [RSA.KeySize] {
            try rsaBits.split(separator: ",").map { item in
                guard let bits = Int(item), let size = RSA.KeySize(rawValue: bits) else {
                    throw ValidationError("--rsa-bits: \(item) is not 2048, 3072 or 4096")
                }
                return size
            }
        }

        @OptionGroup var verbosity: VerbosityOptions

        func perform() throws {
            let benchmarks = PrimitiveBenchmarks(seconds: seconds, sizes: try parsedSizes(sizes), rsaSizes: try parsedKeySizes())
            if !json {
                print("sealdrop bench: libgcrypt \(GcryptVersion.string), \(Cores.available) cores, \(seconds) s per line")
                print(pad("operation", 22) + pad("size", 9) + pad("sealdrop", 16) + pad("libgcrypt", 16) + "ratio")
                if token.module == nil {
                    print("(pipelines: the libgcrypt column is the limit its raw primitives set for the same work)")
                } else {
                    print("(token: the sealdrop column is the key on the token, libgcrypt the same key in memory)")
                }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let emit: (BenchResult) -> Void = { result in
                if json {
                    print(String(decoding: try! encoder.encode(result), as: UTF8.self))
                } else {
                    let size = result.bytes.map(formatBytes) ?? ""
                    let format = result.unit == .megabytesPerSecond ? "%.1f" : "%.3f"
                    print(pad(result.name, 22) + pad(size, 9)
                          + pad(String(format: format, result.sealdrop) + " " + result.unit.rawValue, 16)
                          + pad(String(format: format, result.libgcrypt) + " " + result.unit.rawValue, 16)
                          + String(format: "%.2f", result.ratio))
                }
                fflush(nil)
            }
            if let onToken = try token.open(passphrase) {
                return try TokenBenchmarks(seconds: seconds, sizes: try parsedKeySizes(), token: onToken).run(report: emit)
            }
            try benchmarks.run(report: emit)
            if !primitivesOnly {
                try PipelineBenchmarks(seconds: seconds, sizes: try parsedSizes(pipelineSizes), keySize: try parsedKeySizes()[0])
                    .run(report: emit)
            }
        }

        private func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
        }

        private func formatBytes(_ bytes: Int) -> String {
            bytes >= 1 << 20 && bytes % (1 << 20) == 0 ? "\(bytes >> 20) MiB"
                : bytes >= 1 << 10 && bytes % (1 << 10) == 0 ? "\(bytes >> 10) KiB" : "\(bytes) B"
        }
    }
}
