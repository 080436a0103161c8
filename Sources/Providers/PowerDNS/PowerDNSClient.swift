import FoundationEssentials
import Glibc
import HTTP

/// The two calls of PowerDNS Authoritative's HTTP API (`/api/v1`) the provider makes: read a
/// zone (its kind, `soa_edit_api` and RRsets) and PATCH RRsets into it. Failures become one
/// sentence with the HTTP status and PowerDNS's own `{"error": …}` text, clipped and with the key
/// taken out. The key travels only in the X-API-Key header.
struct PowerDNSClient: Sendable {
    /// `api_url` + `/api/v1/servers/{server_id}`.
    let serverURL: String
    let key: String
    let transport: any HTTPTransport
    var redactor: Redactor { Redactor(secrets: [key]) }
    /// A whole zone is read at once (one request per zone, whatever the number of names); a
    /// zone whose JSON is larger than this is not one this provider should read whole.
    static let bodyLimit = 32 << 20

    struct Zone: Decodable, Sendable {
        var name: String
        var kind: String?
        var soa_edit_api: String?
        var rrsets: [RRset]?
    }

    struct RRset: Codable, Sendable {
        var name: String
        var type: String
        var ttl: Int?
        var changetype: String?
        var records: [Record]?
    }

    struct Record: Codable, Sendable {
        var content: String
        var disabled: Bool?
    }

    struct Failure: Error, Sendable, CustomStringConvertible {
        var description: String
        var status: Int?
    }

    private struct ErrorBody: Decodable { var error: String? }

    /// The zone's id in URLs: its name with the trailing dot, PowerDNS's id of a zone (zone
    /// names reach providers normalized: letters, digits, '-', '_' and dots only).
    static func zoneID(_ zone: String) -> String {
        zone.hasSuffix(".") ? zone : zone + "."
    }

    func zone(_ zone: String) async throws -> Zone {
        let response = try await call("GET", "/zones/\(Self.zoneID(zone))", body: nil)
        do {
            return try JSONDecoder().decode(Zone.self, from: Data(response.body))
        } catch {
            throw Failure(description: "PowerDNS answered GET zone \(zone) with HTTP \(response.status) and a body that is not a zone", status: response.status)
        }
    }

    /// One PATCH with every RRset of the zone that changes (HTTP 204 on success).
    func patch(_ zone: String, rrsets: [RRset]) async throws {
        struct Body: Encodable { var rrsets: [RRset] }
        _ = try await call("PATCH", "/zones/\(Self.zoneID(zone))", body: try JSONEncoder().encode(Body(rrsets: rrsets)))
    }

    private func call(_ method: String, _ path: String, body: Data?) async throws -> HTTPResponse {
        var headers = [("X-API-Key", key), ("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response: HTTPResponse
        do {
            response = try await transport.send(HTTPRequest(method: method, url: serverURL + path, headers: headers, body: body.map { Array($0) }))
        } catch let error as HTTPError {
            throw Failure(description: redactor(error.message))
        }
        guard response.body.count <= Self.bodyLimit else {
            throw Failure(description: "PowerDNS answered with \(response.body.count) bytes, more than this provider reads", status: response.status)
        }
        guard (200...299).contains(response.status) else {
            // PowerDNS's text is untrusted (STYLE.md 20): JSON {"error"} or plain text, redacted,
            // stripped of control characters, clipped.
            let raw = (try? JSONDecoder().decode(ErrorBody.self, from: Data(response.body)))?.error
                ?? String(decoding: response.body.prefix(4096), as: UTF8.self)
            let said = redactor.clip(raw)
            let retry = response.status == 429 || response.status == 503 ? "; it kept asking to wait past the retries" : ""
            throw Failure(description: "PowerDNS answered \(method) with HTTP \(response.status)\(said.isEmpty ? "" : ": \(said)")\(retry)",
                          status: response.status)
        }
        return response
    }
}
