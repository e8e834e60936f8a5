import Foundation
import Hummingbird
import Logging
import SealEnvelope

/// What a failed request gets: a status from RFC 9110 and one sentence, as
/// `{"error": SENTENCE}` (docs/HTTP.md, "Conventions").
struct GatewayError: Error, HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    let headers: HTTPFields

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.headers = headers
    }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        JSONBody.response(status, ["error": message], headers: headers)
    }
}

enum JSONBody {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response(_ status: HTTPResponse.Status, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        // Encoding plain strings, numbers and arrays of them cannot fail.
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// Every error leaves as the JSON above: the router's own (no such path, wrong method), a
/// full disk (503: try again later), anything unforeseen (500, logged).
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as GatewayError {
            throw error
        } catch let error as HTTPError {
            let sentence = switch error.status {
            case .notFound: "there is nothing at \(request.uri.path); docs/HTTP.md lists the paths"
            case .methodNotAllowed: "\(request.method) is not allowed on \(request.uri.path)"
            default: error.body ?? error.status.reasonPhrase
            }
            throw GatewayError(error.status, sentence, headers: error.headers)
        } catch let error as IOFailure where error.code == ENOSPC || error.code == EDQUOT {
            logger.error("disk full", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw GatewayError(.serviceUnavailable, "the server's disk is full; try again later", headers: [.retryAfter: "60"])
        } catch {
            logger.error("request failed", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw GatewayError(.internalServerError, "the server failed to answer; it has logged why")
        }
    }
}
