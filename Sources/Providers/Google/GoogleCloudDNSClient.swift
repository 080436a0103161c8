import FoundationEssentials
import Glibc
import HTTP

/// The few calls of Cloud DNS API v1 the provider makes (managedZones.list,
/// resourceRecordSets.list, changes.create), with Google's error shape
/// (`{"error": {"code", "message", "status", "errors": [{"reason", "message"}]}}`) turned into
/// one sentence. The access token travels only in the Authorization header.
struct GoogleCloudDNSClient: Sendable {
    let baseURL: String
    let project: String
    let transport: any HTTPTransport
    let token: OAuth2Token
    let redactor: Redactor
    /// Bodies larger than this are not Google's answers to these calls.
    static let bodyLimit = 4 << 20

    struct ManagedZone: Decodable, Sendable {
        var name: String
        var dnsName: String
        /// "public" or "private"; a private zone is not what the CA queries.
        var visibility: String?
    }

    /// A resource record set: every value of one name and type. TXT `rrdatas` are in zone-file
    /// syntax (`"value"`).
    struct RRSet: Codable, Sendable, Equatable {
        var name: String
        var type: String
        var ttl: Int?
        var rrdatas: [String]
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        var status: Int = 0
        /// 409 (an addition exists) or 412 (a deletion no longer matches): the set changed since read.
        var isConflict: Bool { status == 409 || status == 412 }
    }

    /// The managed zones whose DNS name is `zone` (managedZones.list, `dnsName` filter).
    func managedZones(dnsName zone: String) async throws -> [ManagedZone] {
        struct Page: Decodable {
            var managedZones: [ManagedZone]?
            var nextPageToken: String?
        }
        var found: [ManagedZone] = []
        var pageToken: String?
        for _ in 0..<20 {
            let query = "dnsName=\(PercentEncoding.encode(zone + "."))" + (pageToken.map { "&pageToken=\(PercentEncoding.encode($0))" } ?? "")
            let page = try await call("GET", "/projects/\(project)/managedZones?\(query)", body: nil, as: Page.self)
            found += page.managedZones ?? []
            guard let next = page.nextPageToken, !next.isEmpty else { break }
            pageToken = next
        }
        return found
    }

    /// The TXT set at `name`, if there is one (resourceRecordSets.list, `name` and `type` filter).
    func txtSet(zone: String, name: String) async throws -> RRSet? {
        struct Page: Decodable {
            var rrsets: [RRSet]?
        }
        let query = "name=\(PercentEncoding.encode(name + "."))&type=TXT"
        let page = try await call("GET", "/projects/\(project)/managedZones/\(zone)/rrsets?\(query)", body: nil, as: Page.self)
        return page.rrsets?.first { $0.type == "TXT" && Self.bare($0.name) == name }
    }

    /// One atomic change (changes.create): `deletions` must match the current sets exactly.
    func change(zone: String, additions: [RRSet], deletions: [RRSet]) async throws {
        struct Change: Encodable {
            var kind = "dns#change"
            var additions: [RRSet]
            var deletions: [RRSet]
        }
        struct Answer: Decodable { var id: String? }
        _ = try await call("POST", "/projects/\(project)/managedZones/\(zone)/changes",
                           body: try JSONEncoder().encode(Change(additions: additions, deletions: deletions)), as: Answer.self)
    }

    /// Google's error answer.
    private struct Envelope: Decodable {
        struct Detail: Decodable {
            var code: Int?
            var message: String?
            var status: String?
        }
        var error: Detail?
    }

    private func call<T: Decodable>(_ method: String, _ path: String, body: Data?, as type: T.Type) async throws -> T {
        let bearer: String
        do {
            bearer = try await token.token()
        } catch let error as OAuth2Token.Failure {
            throw Failure(description: error.description)
        }
        let redactor = redactor.merging(Redactor(secrets: [bearer]))
        var headers = [("Authorization", "Bearer \(bearer)"), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body.map { Array($0) }))
        } catch let error as HTTPError {
            throw Failure(description: redactor(error.message))
        }
        guard response.body.count <= Self.bodyLimit else {
            throw Failure(description: "Google Cloud DNS answered with \(response.body.count) bytes, more than any answer to this call")
        }
        if (200...299).contains(response.status), let value = try? JSONDecoder().decode(T.self, from: Data(response.body)) {
            return value
        }
        let detail = (try? JSONDecoder().decode(Envelope.self, from: Data(response.body)))?.error
        let retry = response.status == 429 ? "; it kept asking to slow down (429) past the retries" : ""
        // Google's message is untrusted text (STYLE.md 20): redacted, stripped and clipped.
        let said = detail?.message.map { redactor.clip($0) + (detail?.status.map { " (\(redactor.clip($0, limit: 40)))" } ?? "") }
        let text = said.map { "\($0), HTTP \(response.status)" }
            ?? ((200...299).contains(response.status) ? "HTTP \(response.status) with an answer it could not read" : "HTTP \(response.status) with no Google error message")
        throw Failure(description: "Google Cloud DNS answered \(text)\(retry)", status: response.status)
    }

    /// "a.example.com." → "a.example.com".
    static func bare(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    /// A TXT value as an rrdata: one quoted string (dns01's values never hold quotes or backslashes).
    static func quote(_ value: String) -> String { "\"\(value)\"" }

    /// An rrdata's value: its quoted strings joined (RFC 7208 §3.3), or the text as it is.
    static func unquote(_ rrdata: String) -> String {
        guard rrdata.hasPrefix("\"") else { return rrdata }
        var result = "", inside = false, escaped = false
        for character in rrdata {
            if escaped { result.append(character); escaped = false; continue }
            if character == "\\" && inside { escaped = true; continue }
            if character == "\"" { inside.toggle(); continue }
            if inside { result.append(character) }
        }
        return result
    }
}
