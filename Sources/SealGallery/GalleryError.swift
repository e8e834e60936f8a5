import Foundation
import Hummingbird
import HummingbirdCore

/// A failed request, as `{"error": SENTENCE}` with its status.
struct GalleryError: Error {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    var response: Response { JSON.response(status, ["error": message]) }
}

enum JSON {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        // Encoding the gallery's plain records cannot fail.
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
