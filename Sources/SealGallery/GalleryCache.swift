import Foundation
import GcryptKit
import SealPKI

/// The images opened through the gallery, decrypted and verified, with who signed them:
/// `PROFILE/gallery/HASH.image` and `HASH.json` (mode 0600, the folder 0700), HASH being the
/// SHA-256 of the image name. Thumbnails and downloads come from here, never from anything
/// that did not verify.
struct GalleryCache: Sendable {
    let directory: String

    struct Provenance: Codable, Sendable {
        let name: String
        let owner: String
        let posted: String
        let mediaType: String
        let size: Int
        let signedBy: String
        let fingerprint: String
        let authority: String

        enum CodingKeys: String, CodingKey {
            case name, owner, posted, size, fingerprint, authority
            case mediaType = "media_type"
            case signedBy = "signed_by"
        }
    }

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    func base(_ name: String) -> String { directory + "/" + SHA256.hash(data: Array(name.utf8)).hex }
    func imagePath(_ name: String) -> String { base(name) + ".image" }

    /// Records what was verified, after the image is in place.
    func record(_ provenance: Provenance) throws {
        try AtomicFile.write(Array(try JSONEncoder().encode(provenance)), to: base(provenance.name) + ".json", mode: 0o600, replace: true)
    }

    /// Removes what is kept of `name` (an open that failed shows nothing of it, old or new).
    func forget(_ name: String) {
        unlink(base(name) + ".json")
        unlink(imagePath(name))
    }

    func has(_ name: String) -> Bool { FileManager.default.fileExists(atPath: base(name) + ".json") }

    func provenance(_ name: String) -> Provenance? {
        guard let bytes = try? KeyFile.readBytes(base(name) + ".json", limit: 64 << 10, followSymlinks: false) else { return nil }
        return try? JSONDecoder().decode(Provenance.self, from: Data(bytes))
    }

    func bytes(_ name: String) -> [UInt8]? {
        try? KeyFile.readBytes(imagePath(name), limit: Gallery.maximumUploadBytes, followSymlinks: false)
    }

    /// The media types a browser may render from here; anything else is served as bytes.
    static func safeMediaType(_ type: String) -> String {
        ["image/png", "image/jpeg", "image/gif", "image/webp", "image/avif", "image/bmp"].contains(type) ? type : "application/octet-stream"
    }
}
