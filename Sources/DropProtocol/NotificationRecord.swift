import Foundation
import SealEnvelope
import SealPKI

/// One line of the notification log.
public struct NotificationRecord: Sendable, Equatable, Codable {
    public let seq: Int
    public let time: Date
    public let type: String
    public let name: String
    public let owner: String
    public let mediaType: String
    public let size: Int
    /// Hex SHA-256 of the previous line's bytes (64 zeros before the first): the chain a
    /// signed head commits to (LogHead).
    public let prev: String

    enum CodingKeys: String, CodingKey {
        case seq, time, type, name, owner, size, prev
        case mediaType = "media_type"
    }

    /// Decodes a line a client reads from a file others may write: every field is checked
    /// as the server would have written it (SERVER.md, "Notifications").
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seq = try c.decode(Int.self, forKey: .seq)
        time = try c.decode(Date.self, forKey: .time)
        type = try c.decode(String.self, forKey: .type)
        name = try c.decode(String.self, forKey: .name)
        owner = try c.decode(String.self, forKey: .owner)
        mediaType = try c.decode(String.self, forKey: .mediaType)
        size = try c.decode(Int.self, forKey: .size)
        prev = try c.decode(String.self, forKey: .prev)
        func refuse(_ what: String) -> DecodingError {
            .dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: what))
        }
        guard seq >= 1 else { throw refuse("seq \(seq) is not positive") }
        guard size >= 0 else { throw refuse("size \(size) is negative") }
        guard type == "image" else { throw refuse("type is not image") }
        guard (try? EnvelopeHeader.validate(name: name)) != nil else { throw refuse("name is not a valid image name") }
        guard (try? UserName(owner)) != nil else { throw refuse("owner is not a valid user name") }
        guard MediaType.imageTypes.contains(mediaType) else { throw refuse("media type is not an image type") }
        guard prev.utf8.count == 64, prev.utf8.allSatisfy(\.isLowercaseHex) else {
            throw refuse("prev is not a SHA-256 in hex")
        }
    }

    public init(seq: Int, time: Date, type: String, name: String, owner: String, mediaType: String, size: Int, prev: String) {
        self.seq = seq
        self.time = time
        self.type = type
        self.name = name
        self.owner = owner
        self.mediaType = mediaType
        self.size = size
        self.prev = prev
    }

    /// The line the server writes for this record, without its newline.
    public var line: [UInt8] {
        // Encoding a value of plain strings, integers and a date cannot fail.
        Array(try! NotificationLog.encoder.encode(self))
    }
}
