/// A bundle (FORMAT.md §13): several complete envelopes in one file, so that a folder
/// posted as a batch reaches the server as one drop. It adds no cryptography: each member
/// is an envelope that verifies alone, and the index only says where each one lies.
public enum Bundle {
    public static let magic = Array("SEALBNDL".utf8)
    public static let version: UInt8 = 1
    /// At most this many envelopes in one bundle (a reader refuses more).
    public static let maximumMembers = 1024
    /// The smallest envelope: its fixed header fields alone take more.
    static let minimumMemberBytes = 64

    /// The index in front of members of these lengths.
    public static func header(lengths: [Int]) -> [UInt8] {
        var writer = ByteWriter()
        writer.raw(magic)
        writer.u8(version)
        writer.u32(UInt32(lengths.count))
        for length in lengths { writer.u64(UInt64(length)) }
        return writer.bytes
    }

    /// Whether `prefix` (a file's first bytes) starts a bundle.
    public static func isBundle(_ prefix: [UInt8]) -> Bool { prefix.starts(with: magic) }

    /// Where each member lies in a bundle of `size` bytes, from its index read from
    /// `source` (at the bundle's start). The members must fill the rest of the file exactly.
    public static func members(of source: inout some ByteSource, size: Int) throws -> [Range<Int>] {
        let fixed = try source.read(exactly: magic.count + 5, or: .malformed("bundle index cut short"))
        guard Array(fixed.prefix(magic.count)) == magic else { throw EnvelopeError.malformed("not a bundle") }
        var reader = ByteReader(Array(fixed.dropFirst(magic.count)))
        let version = try reader.u8()
        guard version == Self.version else { throw EnvelopeError.malformed("bundle version \(version) is not supported (1 is)") }
        let count = Int(try reader.u32())
        guard (1...maximumMembers).contains(count) else {
            throw EnvelopeError.malformed("a bundle holds 1 to \(maximumMembers) envelopes, this one says \(count)")
        }
        var lengths = ByteReader(try source.read(exactly: 8 * count, or: .malformed("bundle index cut short")))
        var start = fixed.count + 8 * count
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(count)
        for index in 0..<count {
            let length = try lengths.u64()
            guard length >= UInt64(minimumMemberBytes), length <= UInt64(size) else {
                throw EnvelopeError.malformed("bundle member \(index) claims \(length) bytes")
            }
            let end = start.addingReportingOverflow(Int(length))
            guard !end.overflow, end.partialValue <= size else {
                throw EnvelopeError.malformed("bundle member \(index) runs past the end of the file")
            }
            ranges.append(start..<end.partialValue)
            start = end.partialValue
        }
        guard start == size else { throw EnvelopeError.malformed("\(size - start) bytes follow the bundle's last member") }
        return ranges
    }
}
