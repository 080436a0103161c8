import FoundationEssentials
import Glibc
import HTTP

/// The few Azure Resource Manager calls of Azure DNS (api-version 2018-05-01) the provider
/// makes: Zones - List (or List By Resource Group), and Record Sets - Get, Create Or Update,
/// Delete for TXT, with ARM's error shape (`{"error": {"code", "message"}}`) turned into one
/// sentence. The access token travels only in the Authorization header.
struct AzureDNSClient: Sendable {
    let baseURL: String
    let transport: any HTTPTransport
    let token: OAuth2Token
    let redactor: Redactor
    static let apiVersion = "2018-05-01"
    /// Bodies larger than this are not ARM's answers to these calls.
    static let bodyLimit = 4 << 20

    struct Zone: Decodable, Sendable {
        /// "/subscriptions/…/resourceGroups/…/providers/Microsoft.Network/dnszones/example.com"
        var id: String
        var name: String
    }

    /// A TXT record set: its etag, TTL and values (each value a list of strings of at most 255).
    struct RecordSet: Sendable {
        var etag: String?
        var ttl: Int?
        var values: [String]
    }

    private struct RecordSetBody: Codable {
        struct TXT: Codable { var value: [String] }
        struct Properties: Codable {
            var TTL: Int?
            var TXTRecords: [TXT]?
        }
        var etag: String?
        var properties: Properties?
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        var status: Int = 0
        /// The set changed since it was read (If-Match / If-None-Match not met).
        var isConflict: Bool { status == 412 }
    }

    /// The DNS zones of the subscription (or of one resource group), every page.
    func zones(subscription: String, resourceGroup: String?) async throws -> [Zone] {
        struct Page: Decodable {
            var value: [Zone]?
            var nextLink: String?
        }
        var url = baseURL + "/subscriptions/\(subscription)" + (resourceGroup.map { "/resourceGroups/\(PercentEncoding.encode($0))" } ?? "")
            + "/providers/Microsoft.Network/dnszones?api-version=\(Self.apiVersion)"
        var found: [Zone] = []
        for _ in 0..<50 {
            let (page, _) = try await call("GET", url, as: Page.self)
            found += page?.value ?? []
            // The token goes only where the base URL points.
            guard let next = page?.nextLink, !next.isEmpty else { break }
            guard next.hasPrefix(baseURL + "/") else {
                throw Failure(description: "Azure DNS's next page link points outside \(baseURL)")
            }
            url = next
        }
        return found
    }

    /// The TXT set at `relative` in the zone, if there is one.
    func txtSet(zoneID: String, relative: String) async throws -> RecordSet? {
        let (body, status) = try await call("GET", recordURL(zoneID, relative), as: RecordSetBody.self, absent: 404)
        guard status != 404, let body else { return nil }
        return RecordSet(etag: body.etag, ttl: body.properties?.TTL, values: (body.properties?.TXTRecords ?? []).map { $0.value.joined() })
    }

    /// Writes the whole set; `etag` nil means "only if there is none yet".
    func put(zoneID: String, relative: String, ttl: Int, values: [String], etag: String?) async throws {
        let body = RecordSetBody(etag: nil, properties: .init(TTL: ttl, TXTRecords: values.map { .init(value: Self.chunks($0)) }))
        _ = try await call("PUT", recordURL(zoneID, relative), body: try JSONEncoder().encode(body),
                           headers: [etag.map { ("If-Match", $0) } ?? ("If-None-Match", "*")], as: RecordSetBody.self)
    }

    func delete(zoneID: String, relative: String, etag: String?) async throws {
        _ = try await call("DELETE", recordURL(zoneID, relative), headers: etag.map { [("If-Match", $0)] } ?? [], as: Empty.self, absent: 404)
    }

    private struct Empty: Decodable {}

    private func recordURL(_ zoneID: String, _ relative: String) -> String {
        baseURL + zoneID + "/TXT/\(PercentEncoding.encode(relative))?api-version=\(Self.apiVersion)"
    }

    /// ARM's error answer.
    private struct Envelope: Decodable {
        struct Detail: Decodable {
            var code: String?
            var message: String?
        }
        var error: Detail?
    }

    /// The decoded answer (nil for an empty body) and the status; `absent` is a status that
    /// means "not there" rather than failure.
    private func call<T: Decodable>(_ method: String, _ url: String, body: Data? = nil, headers extra: [(String, String)] = [],
                                    as type: T.Type, absent: Int? = nil) async throws -> (T?, Int) {
        let bearer: String
        do {
            bearer = try await token.token()
        } catch let error as OAuth2Token.Failure {
            throw Failure(description: error.description)
        }
        let redactor = redactor.merging(Redactor(secrets: [bearer]))
        var headers = [("Authorization", "Bearer \(bearer)"), ("Accept", "application/json")] + extra
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: method, url: url, headers: headers, body: body.map { Array($0) }))
        } catch let error as HTTPError {
            throw Failure(description: redactor(error.message))
        }
        guard response.body.count <= Self.bodyLimit else {
            throw Failure(description: "Azure DNS answered with \(response.body.count) bytes, more than any answer to this call")
        }
        if response.status == absent { return (nil, response.status) }
        if (200...299).contains(response.status) {
            if response.body.isEmpty { return (nil, response.status) }
            if let value = try? JSONDecoder().decode(T.self, from: Data(response.body)) { return (value, response.status) }
        }
        let detail = (try? JSONDecoder().decode(Envelope.self, from: Data(response.body)))?.error
        let retry = response.status == 429 ? "; it kept asking to slow down (429) past the retries" : ""
        // ARM's message is untrusted text (STYLE.md 20): redacted, stripped and clipped.
        let said = detail?.message.map { redactor.clip($0) + (detail?.code.map { " (\(redactor.clip($0, limit: 60)))" } ?? "") }
        let text = said.map { "\($0), HTTP \(response.status)" }
            ?? ((200...299).contains(response.status) ? "HTTP \(response.status) with an answer it could not read" : "HTTP \(response.status) with no Azure error message")
        throw Failure(description: "Azure DNS answered \(text)\(retry)", status: response.status)
    }

    /// A TXT value as Azure keeps it: strings of at most 255 bytes (RFC 1035 §3.3.14).
    static func chunks(_ value: String) -> [String] {
        var result: [String] = [], current = ""
        for character in value {
            if current.utf8.count + character.utf8.count > 255 { result.append(current); current = "" }
            current.append(character)
        }
        return result + [current]
    }
}
