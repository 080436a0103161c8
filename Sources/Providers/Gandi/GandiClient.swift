import FoundationEssentials
import Glibc
import HTTP

/// The calls of Gandi's LiveDNS API v5 the provider makes
/// (https://api.gandi.net/docs/livedns/): list a domain's TXT records, replace the values of one
/// TXT RRset (`PUT …/records/{name}/TXT`), delete one. Errors are `{"code", "message",
/// "object", "cause"}`; the personal access token travels only in the Authorization header.
struct GandiClient: Sendable {
    let api: HostAPIClient

    init(baseURL: String, token: String, transport: any HTTPTransport) {
        api = HostAPIClient(host: "Gandi", baseURL: baseURL, transport: transport, secrets: [token],
                            authenticate: { _, _, _ in [("Authorization", "Bearer \(token)")] },
                            messages: { body in
                                guard let error = HostAPIClient.decode(ErrorBody.self, body) else { return [] }
                                let detail = (error.errors ?? []).compactMap { item in item.description.map { "\(item.name.map { "\($0): " } ?? "")\($0)" } }
                                return ["\(error.message ?? error.cause ?? "no message")\(error.object.map { " (\($0))" } ?? "")"] + detail
                            })
    }

    struct ErrorBody: Decodable {
        struct Item: Decodable {
            var name: String?
            var description: String?
        }
        var message: String?
        var object: String?
        var cause: String?
        var errors: [Item]?
    }

    struct RRset: Codable, Sendable {
        var rrset_name: String
        var rrset_type: String
        var rrset_ttl: Int?
        var rrset_values: [String]
    }

    private struct Replace: Encodable {
        var rrset_ttl: Int
        var rrset_values: [String]
    }

    func listTXT(domain: String) async throws -> [RRset] {
        try await api.json("GET", "/domains/\(HostAPIClient.encode(domain))/records?rrset_type=TXT", as: [RRset].self)
    }

    func replace(domain: String, name: String, ttl: Int, values: [String]) async throws {
        _ = try await api.send("PUT", path(domain, name), body: Array(try JSONEncoder().encode(Replace(rrset_ttl: ttl, rrset_values: values))))
    }

    func delete(domain: String, name: String) async throws {
        _ = try await api.send("DELETE", path(domain, name), accept: [404])
    }

    private func path(_ domain: String, _ name: String) -> String {
        "/domains/\(HostAPIClient.encode(domain))/records/\(HostAPIClient.encode(name))/TXT"
    }
}
