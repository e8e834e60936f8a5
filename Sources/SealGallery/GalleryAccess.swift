import GcryptKit
import Hummingbird
import SealEnvelope
import HTTPTypes
import HummingbirdCore

/// Who may use the gallery: whoever holds this run's random token. The URL the command prints
/// carries it once (`/?token=...`, as Jupyter does); the first visit trades it for an
/// HttpOnly, SameSite=Strict cookie and a redirect that takes it out of the address bar.
/// Every request must also name this listener as its Host (a DNS-rebinding page cannot) and,
/// when it says where it comes from, come from this origin. Requests that change anything
/// carry the CSRF token the page was given, in a header a cross-site form cannot set.
struct GalleryAccess: Sendable {
    let token: String
    let csrf: String
    /// The `Host` values this listener answers to, e.g. `127.0.0.1:8765`, `localhost:8765`:
    /// set once the port is bound; until then nothing is answered.
    let hosts = Locked(Set<String>())

    static let cookie = "sealdrop_gallery"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    init() {
        token = Random.bytes(count: 32).hexString
        csrf = Random.bytes(count: 32).hexString
    }

    /// Answers to `host:port` from now on (and, on loopback, to its other loopback names).
    func listen(host: String, port: Int) {
        var names: Set<String> = ["\(host.contains(":") ? "[\(host)]" : host):\(port)"]
        if host == "127.0.0.1" || host == "::1" || host == "localhost" {
            names.formUnion(["localhost:\(port)", "127.0.0.1:\(port)", "[::1]:\(port)"])
        }
        hosts.withLock { $0 = names }
    }

    enum Verdict: Equatable {
        case allowed
        /// The first visit: set the cookie and redirect to the path without the token.
        case welcome
        case forbidden(String)
    }

    func check(_ request: Request) -> Verdict {
        let hosts = self.hosts.withLock { $0 }
        guard let host = request.head.authority, hosts.contains(host.lowercased()) else {
            return .forbidden("this gallery answers only to the address it printed")
        }
        if let origin = request.headers[.origin], !hosts.contains(where: { origin == "http://" + $0 }) {
            return .forbidden("requests from another origin are refused")
        }
        if request.headers[HTTPField.Name("Sec-Fetch-Site")!] == "cross-site" {
            return .forbidden("requests from another site are refused")
        }
        let cookieOK = cookieValue(request).map { Memory.constantTimeEqual(Array($0.utf8), Array(token.utf8)) } ?? false
        if !cookieOK {
            guard request.method == .get, request.uri.path == "/",
                  let given = request.uri.queryParameters["token"].map(String.init),
                  Memory.constantTimeEqual(Array(given.utf8), Array(token.utf8)) else {
                return .forbidden("open the gallery with the address `sealdrop gallery` printed (it carries this run's token)")
            }
            return .welcome
        }
        if request.method != .get && request.method != .head {
            let given = request.headers[Self.csrfHeader] ?? ""
            guard Memory.constantTimeEqual(Array(given.utf8), Array(csrf.utf8)) else {
                return .forbidden("the request lacks the page's CSRF token")
            }
        }
        return .allowed
    }

    func cookieValue(_ request: Request) -> String? {
        for field in request.headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == Self.cookie {
                    return String(parts[1]).trimmingCharacters(in: .whitespaces)
                }
            }
        }
        return nil
    }

    var setCookie: String { "\(Self.cookie)=\(token); Path=/; HttpOnly; SameSite=Strict" }

    /// What every response carries: a policy that lets the page load only its own scripts,
    /// styles and images (and the blob: URLs of decrypted images), frame nothing and be
    /// framed by nothing, and no caching of what was decrypted.
    static let securityHeaders: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!:
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; connect-src 'self'; "
            + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Cross-Origin-Resource-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]
}

/// Applies `GalleryAccess` to every request, and the security headers to every response.
struct GalleryGuard<Context: RequestContext>: RouterMiddleware {
    let access: GalleryAccess

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        switch access.check(request) {
        case .allowed:
            do {
                response = try await next(request, context)
            } catch let error as GalleryError {
                response = error.response
            } catch let error as HTTPError {
                response = GalleryError(error.status, error.body ?? error.status.reasonPhrase).response
            } catch {
                // The server unreachable, a full disk: said to the page in words, as the CLI says it.
                response = GalleryError(.internalServerError, "\(error)").response
            }
        case .welcome:
            response = Response(status: .seeOther, headers: [.location: "/", .setCookie: access.setCookie])
        case .forbidden(let why):
            response = GalleryError(.forbidden, why).response
        }
        for field in GalleryAccess.securityHeaders { response.headers[field.name] = field.value }
        return response
    }
}
