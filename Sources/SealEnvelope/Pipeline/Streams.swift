import Foundation
import SealPKI

/// Bytes read from a descriptor that may be a pipe or a terminal (standard input): read(2)
/// only, so `skip` reads and drops.
public struct StreamSource: ByteSource, Sendable {
    let fd: Int32
    public let label: String

    public init(fd: Int32, label: String) {
        self.fd = fd
        self.label = label
    }

    public static var standardInput: StreamSource { StreamSource(fd: STDIN_FILENO, label: "standard input") }

    public mutating func read(upTo count: Int) throws -> [UInt8] {
        try FileSource.read(fd, upTo: count, label: label)
    }

    public mutating func skip(_ count: Int) throws -> Int {
        try read(upTo: count).count
    }
}

/// Bytes written straight to a descriptor (standard output).
public struct StreamSink: ByteSink, Sendable {
    let fd: Int32
    public let label: String

    public init(fd: Int32, label: String) {
        self.fd = fd
        self.label = label
    }

    public static var standardOutput: StreamSink { StreamSink(fd: STDOUT_FILENO, label: "standard output") }

    public var releasesAsWritten: Bool { true }

    public mutating func write(_ bytes: [UInt8]) throws {
        do {
            try AtomicFile.writeAll(bytes, to: fd, path: label)
        } catch AtomicFile.Failure.system(_, _, let code) {
            throw IOFailure(call: "write", path: label, code: code)
        }
    }
}

/// A source with some bytes already taken from it (to look at them first) put back in front.
public struct PrefixedSource<Base: ByteSource>: ByteSource {
    var prefix: [UInt8]
    var base: Base

    public init(prefix: [UInt8], base: Base) {
        self.prefix = prefix
        self.base = base
    }

    public mutating func read(upTo count: Int) throws -> [UInt8] {
        guard !prefix.isEmpty else { return try base.read(upTo: count) }
        let taken = Array(prefix.prefix(count))
        prefix.removeFirst(taken.count)
        return taken
    }

    public mutating func skip(_ count: Int) throws -> Int {
        let fromPrefix = min(count, prefix.count)
        prefix.removeFirst(fromPrefix)
        return fromPrefix + (count > fromPrefix ? try base.skip(count - fromPrefix) : 0)
    }
}

/// An unnamed temporary file (`O_TMPFILE` in `$TMPDIR`, else /tmp): where an envelope read
/// from a pipe, or decoded from armour, is kept so that it can be read twice (verified, then
/// decrypted). It has no name, so it vanishes with the process whatever kills it.
public enum Spool {
    /// Copies everything `source` yields into a new unnamed file, then returns it for reading.
    public static func copy(from source: inout some ByteSource, label: String) throws -> FileSource {
        try fill(label: label) { sink in
            while true {
                let block = try source.read(upTo: 1 << 20)
                if block.isEmpty { break }
                try sink.write(block)
            }
        }
    }

    /// A new unnamed file holding what `body` writes to it, rewound for reading.
    public static func fill(label: String, _ body: (inout StreamSink) throws -> Void) throws -> FileSource {
        let directory = ProcessInfo.processInfo.environment["TMPDIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        let fd = open(directory, FileSink.unnamedFile | O_RDWR | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw IOFailure(call: "open", path: directory, code: errno,
                            reason: "cannot make a temporary file to hold \(label) (\(String(cString: strerror(errno))))")
        }
        let source = FileSource(descriptor: fd, path: label)
        var sink = StreamSink(fd: fd, label: label)
        try body(&sink)
        try source.rewind()
        return source
    }
}
