import FoundationEssentials
import FoundationShim
import Glibc
import HTTP

/// The calls of deSEC's API the provider makes (https://desec.readthedocs.io/en/latest/dns/rrsets.html):
/// list a domain's TXT RRsets (cursor pagination, following the Link header's rel="next"), and
/// one bulk PATCH of RRsets, each replaced whole (an empty `records` deletes it). Errors are
/// `{"detail"}` or field errors (one object per item of a bulk request); the token travels only
/// in the Authorization header ("Token …").
struct DeSECClient: Sendable {
    let api: HostAPIClient
    /// Pages followed at most (500 RRsets each).
    static let maxPages = 100

    init(baseURL: String, token: String, transport: any HTTPTransport) {
        api = HostAPIClient(host: "deSEC", baseURL: baseURL, transport: transport, secrets: [token],
                            authenticate: { _, _, _ in [("Authorization", "Token \(token)")] },
                            messages: { body in HostAPIClient.decode(JSONValue.self, body)?.messages() ?? [] })
    }

    struct RRset: Codable, Sendable {
        var subname: String
        var type: String
        var ttl: Int?
        var records: [String]
    }

    /// The TXT RRsets of `domain`, every page.
    func listTXT(domain: String) async throws -> [RRset] {
        var rrsets: [RRset] = []
        var cursor = ""
        for _ in 1...Self.maxPages {
            let response = try await api.send("GET", "/domains/\(HostAPIClient.encode(domain))/rrsets/?type=TXT&cursor=\(HostAPIClient.encode(cursor))")
            guard let page = try? JSONDecoder().decode([RRset].self, from: Data(response.body)) else {
                throw HostAPIClient.Failure(description: "deSEC answered the RRset list with a body that is not the documented JSON (HTTP \(response.status))",
                                            status: response.status)
            }
            rrsets += page
            guard let next = Self.nextCursor(response.header("Link")) else { break }
            cursor = next
        }
        return rrsets
    }

    /// Replaces these RRsets whole, in one request.
    func patch(domain: String, _ rrsets: [RRset]) async throws {
        _ = try await api.send("PATCH", "/domains/\(HostAPIClient.encode(domain))/rrsets/", body: Array(try JSONEncoder().encode(rrsets)))
    }

    /// The `cursor` of the Link header's rel="next" URL (RFC 8288), if there is one.
    static func nextCursor(_ link: String?) -> String? {
        guard let link else { return nil }
        for part in link.split(separator: ",") {
            guard part.contains("rel=\"next\""), let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">"), open < close else { continue }
            let url = part[part.index(after: open)..<close]
            guard let query = url.split(separator: "?", maxSplits: 1).dropFirst().first else { return nil }
            for pair in query.split(separator: "&") where pair.hasPrefix("cursor=") {
                let value = String(pair.dropFirst(7))
                return PercentEncoding.decode(value) ?? value
            }
        }
        return nil
    }
}
