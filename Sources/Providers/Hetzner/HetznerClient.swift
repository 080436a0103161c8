import FoundationEssentials
import Glibc
import HTTP

/// The calls of the Hetzner Cloud API's DNS the provider makes
/// (https://docs.hetzner.cloud/reference/cloud#zone-rrset-actions): add records to an RRSet
/// (created if missing) and remove records from one (deleted when empty), the zone named by its
/// name. TXT values travel quoted, as Hetzner keeps them. Errors are `{"error": {"code",
/// "message"}}`; the token travels only in the Authorization header.
struct HetznerClient: Sendable {
    let api: HostAPIClient

    init(baseURL: String, token: String, transport: any HTTPTransport) {
        api = HostAPIClient(host: "Hetzner", baseURL: baseURL, transport: transport, secrets: [token],
                            authenticate: { _, _, _ in [("Authorization", "Bearer \(token)")] },
                            messages: { body in
                                guard let error = HostAPIClient.decode(ErrorBody.self, body)?.error else { return [] }
                                return ["\(error.message ?? "no message")\(error.code.map { " (\($0))" } ?? "")"]
                            })
    }

    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var code: String?
            var message: String?
        }
        var error: Detail?
    }

    private struct Value: Codable { var value: String }
    private struct Add: Encodable {
        var ttl: Int
        var records: [Value]
    }
    private struct Remove: Encodable { var records: [Value] }

    /// Adds `values` to the TXT RRSet `name` ("@" at the apex) of `zone`.
    func add(zone: String, name: String, values: [String], ttl: Int) async throws {
        let body = Add(ttl: ttl, records: values.map { Value(value: Self.quoted($0)) })
        _ = try await api.send("POST", path(zone, name, "add_records"), body: Array(try JSONEncoder().encode(body)))
    }

    /// Removes exactly `values` from the TXT RRSet `name` of `zone`.
    func remove(zone: String, name: String, values: [String]) async throws {
        let body = Remove(records: values.map { Value(value: Self.quoted($0)) })
        _ = try await api.send("POST", path(zone, name, "remove_records"), body: Array(try JSONEncoder().encode(body)))
    }

    private func path(_ zone: String, _ name: String, _ action: String) -> String {
        "/zones/\(HostAPIClient.encode(zone))/rrsets/\(HostAPIClient.encode(name))/TXT/actions/\(action)"
    }

    /// A TXT value as Hetzner takes it: one quoted character-string (dns01's values hold no
    /// quotes or backslashes: base64url).
    static func quoted(_ value: String) -> String { "\"\(value)\"" }
}
