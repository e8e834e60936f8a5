/// Sizes on the command line: a number with an optional k, m or g suffix (powers of 1024).
enum ByteSize {
    /// The size in bytes, or nil when `text` is not a positive size.
    static func parse(_ text: some StringProtocol) -> Int? {
        let lower = text.lowercased()
        let multipliers: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        let multiplier = lower.last.flatMap { multipliers[$0] }
        guard let value = Int(multiplier == nil ? lower : String(lower.dropLast())), value > 0 else { return nil }
        let (bytes, overflow) = value.multipliedReportingOverflow(by: multiplier ?? 1)
        return overflow ? nil : bytes
    }
}
