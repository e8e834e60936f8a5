/// Image types recognised from their first bytes, with dimensions where the header gives
/// them. Only these may be sealed as images (FORMAT.md §2).
public struct MediaType: Sendable, Equatable {
    public let name: String
    public let width: UInt32
    public let height: UInt32

    public static let imageTypes = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff", "image/heic", "image/avif"]

    /// The usual file name extension of an image type.
    public static func fileExtension(of mediaType: String) -> String? {
        ["image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp", "image/tiff": "tiff",
         "image/heic": "heic", "image/avif": "avif"][mediaType]
    }

    static func validate(_ mediaType: String, for kind: EnvelopeKind) throws {
        guard mediaType.utf8.count <= 64 else { throw EnvelopeError.malformed("media type longer than 64 bytes") }
        switch kind {
        case .image:
            guard imageTypes.contains(mediaType) else { throw EnvelopeError.malformed("media type \(mediaType) is not an allowed image type") }
        case .message:
            guard mediaType.hasPrefix("application/") else { throw EnvelopeError.malformed("message media type must be application/...") }
        }
    }

    /// Recognises an image from its first bytes (64 KiB is plenty); nil when it is none of
    /// the allowed types.
    public static func detect(_ head: [UInt8]) -> MediaType? {
        let b = head
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + prefix.count && Array(b[offset..<offset + prefix.count]) == prefix
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
            let (w, h) = starts(Array("IHDR".utf8), at: 12) ? (be32(b, 16), be32(b, 20)) : (0, 0)
            return MediaType(name: "image/png", width: w, height: h)
        }
        if starts([0xFF, 0xD8, 0xFF]) {
            let (w, h) = jpegDimensions(b)
            return MediaType(name: "image/jpeg", width: w, height: h)
        }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) {
            return MediaType(name: "image/gif", width: UInt32(le16(b, 6)), height: UInt32(le16(b, 8)))
        }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) {
            let (w, h) = webpDimensions(b)
            return MediaType(name: "image/webp", width: w, height: h)
        }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) {
            let (w, h) = tiffDimensions(b)
            return MediaType(name: "image/tiff", width: w, height: h)
        }
        if starts(Array("ftyp".utf8), at: 4), b.count >= 12 {
            let brand = String(decoding: b[8..<12], as: UTF8.self)
            let (w, h) = ispeDimensions(b)
            switch brand {
            case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1":
                return MediaType(name: "image/heic", width: w, height: h)
            case "avif", "avis":
                return MediaType(name: "image/avif", width: w, height: h)
            default:
                return nil
            }
        }
        return nil
    }

    // MARK: - Dimension parsers (bounds-checked; a truncated header gives 0 x 0)

    static func be16(_ b: [UInt8], _ o: Int) -> UInt16 { o + 2 <= b.count ? UInt16(b[o]) << 8 | UInt16(b[o + 1]) : 0 }
    static func le16(_ b: [UInt8], _ o: Int) -> UInt16 { o + 2 <= b.count ? UInt16(b[o + 1]) << 8 | UInt16(b[o]) : 0 }
    static func be32(_ b: [UInt8], _ o: Int) -> UInt32 { o + 4 <= b.count ? UInt32(be16(b, o)) << 16 | UInt32(be16(b, o + 2)) : 0 }
    static func le32(_ b: [UInt8], _ o: Int) -> UInt32 { o + 4 <= b.count ? UInt32(le16(b, o + 2)) << 16 | UInt32(le16(b, o)) : 0 }
    static func le24(_ b: [UInt8], _ o: Int) -> UInt32 { o + 3 <= b.count ? UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 : 0 }

    /// Walks JPEG markers to the first start-of-frame (SOF0-SOF15 except DHT, JPG, DAC).
    static func jpegDimensions(_ b: [UInt8]) -> (UInt32, UInt32) {
        var o = 2
        while o + 9 < b.count {
            guard b[o] == 0xFF else { return (0, 0) }
            let marker = b[o + 1]
            if marker == 0xFF { o += 1; continue }
            if (0xD0...0xD9).contains(marker) || marker == 0x01 { o += 2; continue }
            let length = Int(be16(b, o + 2))
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                return (UInt32(be16(b, o + 7)), UInt32(be16(b, o + 5)))
            }
            guard length >= 2 else { return (0, 0) }
            o += 2 + length
        }
        return (0, 0)
    }

    static func webpDimensions(_ b: [UInt8]) -> (UInt32, UInt32) {
        guard b.count >= 30 else { return (0, 0) }
        switch String(decoding: b[12..<16], as: UTF8.self) {
        case "VP8 ": return (UInt32(le16(b, 26) & 0x3FFF), UInt32(le16(b, 28) & 0x3FFF))
        case "VP8L":
            let bits = le32(b, 21)
            return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        case "VP8X": return (le24(b, 24) + 1, le24(b, 27) + 1)
        default: return (0, 0)
        }
    }

    /// ImageWidth (256) and ImageLength (257) from the first IFD.
    static func tiffDimensions(_ b: [UInt8]) -> (UInt32, UInt32) {
        let little = b[0] == 0x49
        func u16(_ o: Int) -> UInt32 { UInt32(little ? le16(b, o) : be16(b, o)) }
        func u32(_ o: Int) -> UInt32 { little ? le32(b, o) : be32(b, o) }
        let ifd = Int(u32(4))
        guard ifd > 0, ifd + 2 <= b.count else { return (0, 0) }
        var width: UInt32 = 0, height: UInt32 = 0
        for i in 0..<Int(u16(ifd)) {
            let entry = ifd + 2 + 12 * i
            guard entry + 12 <= b.count else { break }
            let value = u16(entry + 2) == 3 ? u16(entry + 8) : u32(entry + 8)
            switch u16(entry) {
            case 256: width = value
            case 257: height = value
            default: break
            }
        }
        return (width, height)
    }

    /// The size of a HEIF/AVIF image's primary item: the `ispe` property that `ipma`
    /// associates with the item `pitm` names (a grid image has other `ispe`s for its tiles),
    /// cropped by an associated `clap` box, since HEVC codes even sizes.
    static func ispeDimensions(_ b: [UInt8]) -> (UInt32, UInt32) {
        guard let pitm = findBox("pitm", in: b, payload: 6), let ipco = findBox("ipco", in: b, payload: 8),
              let ipma = findBox("ipma", in: b, payload: 8)
        else { return (0, 0) }
        let primary = b[pitm] == 0 ? UInt32(be16(b, pitm + 4)) : be32(b, pitm + 4)
        // Properties in ipco, numbered from 1: (type, payload offset).
        var properties: [(String, Int)] = []
        let ipcoEnd = ipco - 8 + Int(be32(b, ipco - 8))
        var o = ipco
        while o + 8 <= min(ipcoEnd, b.count) {
            let size = Int(be32(b, o))
            guard size >= 8 else { break }
            properties.append((String(decoding: b[o + 4..<o + 8], as: UTF8.self), o + 8))
            o += size
        }
        let version = b[ipma], wideIndex = b[ipma + 3] & 1 == 1
        let entries = be32(b, ipma + 4)
        var p = ipma + 8
        var size: (UInt32, UInt32) = (0, 0)
        var crop: Int?
        for _ in 0..<min(entries, 4096) {
            guard p + (version == 0 ? 3 : 5) <= b.count else { break }
            let item = version == 0 ? UInt32(be16(b, p)) : be32(b, p)
            p += version == 0 ? 2 : 4
            let count = Int(b[p])
            p += 1
            for _ in 0..<count {
                guard p + (wideIndex ? 2 : 1) <= b.count else { break }
                let index = Int(wideIndex ? be16(b, p) & 0x7FFF : UInt16(b[p] & 0x7F))
                p += wideIndex ? 2 : 1
                guard item == primary, index >= 1, index <= properties.count else { continue }
                let (type, payload) = properties[index - 1]
                if type == "ispe" { size = (be32(b, payload + 4), be32(b, payload + 8)) }
                if type == "clap" { crop = payload }
            }
        }
        if let clap = crop {
            let (wn, wd, hn, hd) = (be32(b, clap), be32(b, clap + 4), be32(b, clap + 8), be32(b, clap + 12))
            if wd > 0, hd > 0, wn / wd > 0, hn / hd > 0 { size = (wn / wd, hn / hd) }
        }
        return size
    }

    /// Offset of the payload of the first box of `type` with at least `payload` bytes.
    static func findBox(_ type: String, in b: [UInt8], payload: Int) -> Int? {
        let tag = Array(type.utf8)
        var o = 4
        while o + 4 + payload <= b.count {
            if b[o] == tag[0], Array(b[o..<o + 4]) == tag { return o + 4 }
            o += 1
        }
        return nil
    }
}
