import FoundationEssentials
import Glibc
import HTTP

/// The few calls of Cloudflare's API v4 the provider makes, with its JSON envelope
/// (`{"success", "errors": [{"code", "message"}], "result"}`) decoded and failures turned into
/// one sentence with Cloudflare's own message and code. The token travels only in the
/// Authorization header.
struct CloudflareClient: Sendable {
    let baseURL: String
    let token: String
    let transport: any HTTPTransport
    /// Cloudflare's code for "An identical record already exists."
    static let identicalRecordExists = 81058
    /// Takes the token out of whatever Cloudflare says.
    var redactor: Redactor { Redactor(secrets: [token]) }
    /// Bodies larger than this are not Cloudflare's answers to these calls.
    static let bodyLimit = 4 << 20

    struct Zone: Decodable, Sendable {
        var id: String
        var name: String
    }

    struct Record: Decodable, Sendable {
        var id: String
        var name: String
        var content: String
        /// Cloudflare may show TXT content quoted ("\"value\""); dns01's values never hold quotes.
        var unquotedContent: String {
            content.count >= 2 && content.hasPrefix("\"") && content.hasSuffix("\"") ? String(content.dropFirst().dropLast()) : content
        }
    }

    struct NewRecord: Encodable, Sendable {
        var type: String
        var name: String
        var content: String
        var ttl: Int
    }

    struct BatchResult: Decodable, Sendable {
        var posts: [Record]?
        var deletes: [Record]?
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        /// Cloudflare's error codes in the answer (81058: an identical record exists).
        var codes: [Int] = []
    }

    private struct Envelope<Result: Decodable>: Decodable {
        var success: Bool?
        var errors: [Message]?
        var result: Result?
    }

    private struct Message: Decodable {
        var code: Int?
        var message: String?
    }

    func zones(named name: String) async throws -> [Zone] {
        try await call("GET", "/zones?name=\(Self.queryEncode(name))&per_page=50", body: nil, as: [Zone].self) ?? []
    }

    func listTXT(zoneID: String, name: String) async throws -> [Record] {
        try await call("GET", "/zones/\(zoneID)/dns_records?type=TXT&name=\(Self.queryEncode(name))&per_page=100", body: nil, as: [Record].self) ?? []
    }

    func batch(zoneID: String, deletes: [String], posts: [NewRecord]) async throws -> BatchResult {
        struct Delete: Encodable { var id: String }
        struct Body: Encodable {
            var deletes: [Delete]?
            var posts: [NewRecord]?
        }
        let body = Body(deletes: deletes.isEmpty ? nil : deletes.map { Delete(id: $0) }, posts: posts.isEmpty ? nil : posts)
        return try await call("POST", "/zones/\(zoneID)/dns_records/batch", body: try JSONEncoder().encode(body), as: BatchResult.self)
            ?? BatchResult(posts: [], deletes: [])
    }

    private func call<T: Decodable>(_ method: String, _ path: String, body: Data?, as type: T.Type) async throws -> T? {
        var headers = [("Authorization", "Bearer \(token)"), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body.map { Array($0) }))
        } catch let error as HTTPError {
            throw Failure(description: redactor(error.message))
        }
        guard response.body.count <= Self.bodyLimit else {
            throw Failure(description: "Cloudflare answered with \(response.body.count) bytes, more than any answer to this call")
        }
        let envelope = try? JSONDecoder().decode(Envelope<T>.self, from: Data(response.body))
        let ok = (200...299).contains(response.status) && envelope?.success == true
        guard ok, let envelope else {
            // Cloudflare's messages are untrusted text (STYLE.md 20): redacted, stripped of
            // control characters and clipped, at most five of them.
            let errors = envelope?.errors ?? []
            let messages = errors.prefix(5).map { item in
                "\(item.message.map { redactor.clip($0) } ?? "no message")\(item.code.map { " (code \($0))" } ?? "")"
            } + (errors.count > 5 ? ["and \(errors.count - 5) more"] : [])
            let retry = response.status == 429 ? "; it kept asking to slow down (429) past the retries" : ""
            let text = messages.isEmpty ? "HTTP \(response.status) with no Cloudflare error message" : messages.joined(separator: "; ") + ", HTTP \(response.status)"
            throw Failure(description: "Cloudflare answered \(text)\(retry)", codes: (envelope?.errors ?? []).compactMap(\.code))
        }
        return envelope.result
    }

    /// A query value: everything but unreserved characters percent-encoded.
    static func queryEncode(_ text: String) -> String {
        PercentEncoding.encode(text)
    }
}
