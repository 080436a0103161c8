import Foundation
import HTTP

/// Responses as a script writes them. Header names are lowercased, as `CurlTransport` gives them.
extension HTTPResponse {
    /// A JSON document (`application/json`).
    public static func json(_ text: String, status: Int = 200, headers: [String: String] = [:]) -> HTTPResponse {
        var response = HTTPResponse(status: status, headers: ["content-type": ["application/json"]], body: Array(text.utf8))
        for (name, value) in headers { response.headers[name.lowercased()] = [value] }
        return response
    }

    /// A problem document (RFC 7807, RFC 8555 §6.7): `type` is an ACME error name ("badNonce",
    /// "rateLimited") or a full URN; `retryAfter` is the Retry-After header as sent.
    public static func problem(_ type: String, detail: String, status: Int = 400, retryAfter: String? = nil,
                               headers: [String: String] = [:]) -> HTTPResponse {
        let urn = type.contains(":") ? type : "urn:ietf:params:acme:error:" + type
        let document: [String: Any] = ["type": urn, "detail": detail, "status": status]
        let body = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
        var response = HTTPResponse(status: status, headers: ["content-type": ["application/problem+json"]], body: Array(body))
        if let retryAfter { response.headers["retry-after"] = [retryAfter] }
        for (name, value) in headers { response.headers[name.lowercased()] = [value] }
        return response
    }

    /// An answer with no body: a HEAD newNonce (RFC 8555 §7.2), a 503 with Retry-After.
    public static func empty(status: Int = 200, headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers.reduce(into: [:]) { $0[$1.key.lowercased()] = [$1.value] }, body: [])
    }

    /// The same response with one more header (replacing one of that name).
    public func with(_ name: String, _ value: String) -> HTTPResponse {
        var response = self
        response.headers[name.lowercased()] = [value]
        return response
    }
}
