import DropProtocol
import Foundation
import Logging
import SealServer

/// swift-log to stderr, one line per event: `TIME LEVEL message key=value ...`, or one JSON
/// object per line with `--log-format json`.
struct LineLogHandler: LogHandler {
    enum Format: String, CaseIterable { case text, json }

    let format: Format
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let time = LogTime.format(Date())
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let line: String
        switch format {
        case .text:
            // Nothing from outside may start a line of its own or drive the terminal.
            let fields = merged.sorted { $0.key < $1.key }
                .map { "\($0.key)=\(LogText.escaped("\($0.value)", keepBackslash: true))" }.joined(separator: " ")
            line = "\(time) \(event.level) \(LogText.escaped("\(event.message)", keepBackslash: true))\(fields.isEmpty ? "" : " " + fields)"
        case .json:
            var object: [String: String] = ["time": time, "level": "\(event.level)", "message": "\(event.message)"]
            for (key, value) in merged { object[key] = "\(value)" }
            line = String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]), as: UTF8.self)
        }
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    static func logger(_ label: String, format: Format) -> Logger {
        Logger(label: label) { _ in LineLogHandler(format: format) }
    }
}
