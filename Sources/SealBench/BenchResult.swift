/// One line of `sealdrop bench`: sealdrop's figure beside libgcrypt's for the same work.
public struct BenchResult: Codable, Sendable {
    public enum Unit: String, Codable, Sendable {
        /// Megabytes (10^6 bytes) per second; higher is better.
        case megabytesPerSecond = "MB/s"
        /// Milliseconds per operation; lower is better.
        case millisecondsPerOperation = "ms/op"
    }

    public let name: String
    /// Input size in bytes, when the operation has one.
    public let bytes: Int?
    public let unit: Unit
    public let sealdrop: Double
    public let libgcrypt: Double

    /// sealdrop's speed as a fraction of libgcrypt's (1.0 = equal, above 1 = faster).
    public var ratio: Double {
        switch unit {
        case .megabytesPerSecond: sealdrop / libgcrypt
        case .millisecondsPerOperation: libgcrypt / sealdrop
        }
    }

    enum CodingKeys: String, CodingKey {
        case name, bytes, unit, sealdrop, libgcrypt, ratio
    }

    public init(name: String, bytes: Int?, unit: Unit, sealdrop: Double, libgcrypt: Double) {
        self.name = name
        self.bytes = bytes
        self.unit = unit
        self.sealdrop = sealdrop
        self.libgcrypt = libgcrypt
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            name: try c.decode(String.self, forKey: .name), bytes: try c.decodeIfPresent(Int.self, forKey: .bytes),
            unit: try c.decode(Unit.self, forKey: .unit), sealdrop: try c.decode(Double.self, forKey: .sealdrop),
            libgcrypt: try c.decode(Double.self, forKey: .libgcrypt))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encodeIfPresent(bytes, forKey: .bytes)
        try c.encode(unit, forKey: .unit)
        try c.encode(sealdrop, forKey: .sealdrop)
        try c.encode(libgcrypt, forKey: .libgcrypt)
        try c.encode(ratio, forKey: .ratio)
    }
}
