import FoundationEssentials
import Glibc
import HTTP

/// The calls of OVHcloud's API the provider makes (https://eu.api.ovh.com/console/, /domain):
/// the server's time (`GET /auth/time`, once, for the signature's timestamp), create a record,
/// list a name's TXT record IDs, read one, delete one, and refresh the zone so the changes are
/// served. Every call but /auth/time is signed (`OVHSignature`); the secrets travel only inside
/// the signature and the X-Ovh-Consumer header. Errors are `{"class", "message"}` or
/// `{"errorCode", "httpCode", "message"}`.
struct OVHClient: Sendable {
    let api: HostAPIClient
    let applicationKey: String
    let consumerKey: String
    let signature: OVHSignature
    /// Seconds to add to this machine's clock to get OVH's, fetched once.
    private let skew = Skew()

    actor Skew {
        var seconds: Int?
        func set(_ value: Int) { seconds = value }
    }

    init(baseURL: String, applicationKey: String, applicationSecret: String, consumerKey: String, transport: any HTTPTransport) {
        self.applicationKey = applicationKey
        self.consumerKey = consumerKey
        signature = OVHSignature(applicationSecret: applicationSecret, consumerKey: consumerKey)
        api = HostAPIClient(host: "OVH", baseURL: baseURL, transport: transport, secrets: [applicationSecret, consumerKey],
                            authenticate: { _, _, _ in [] },
                            messages: { body in
                                guard let error = HostAPIClient.decode(ErrorBody.self, body) else { return [] }
                                let code = error.errorCode ?? error.class
                                return ["\(error.message ?? "no message")\(code.map { " (\($0))" } ?? "")"]
                            })
    }

    struct ErrorBody: Decodable {
        var `class`: String?
        var errorCode: String?
        var message: String?
    }

    struct Record: Codable, Sendable {
        var id: Int
        var fieldType: String
        var subDomain: String
        var target: String
    }

    private struct NewRecord: Encodable {
        var fieldType = "TXT"
        var subDomain: String
        var target: String
        var ttl: Int
    }

    func create(zone: String, subDomain: String, target: String, ttl: Int) async throws -> Record {
        try decode(Record.self, try await signed("POST", "/domain/zone/\(HostAPIClient.encode(zone))/record",
                                                 body: NewRecord(subDomain: subDomain, target: target, ttl: ttl)))
    }

    func txtRecordIDs(zone: String, subDomain: String) async throws -> [Int] {
        try decode([Int].self, try await signed("GET", "/domain/zone/\(HostAPIClient.encode(zone))/record?fieldType=TXT&subDomain=\(HostAPIClient.encode(subDomain))"))
    }

    func record(zone: String, id: Int) async throws -> Record {
        try decode(Record.self, try await signed("GET", "/domain/zone/\(HostAPIClient.encode(zone))/record/\(id)"))
    }

    func delete(zone: String, id: Int) async throws {
        _ = try await signed("DELETE", "/domain/zone/\(HostAPIClient.encode(zone))/record/\(id)")
    }

    func refresh(zone: String) async throws {
        _ = try await signed("POST", "/domain/zone/\(HostAPIClient.encode(zone))/refresh")
    }

    private func signed(_ method: String, _ path: String, body: (any Encodable)? = nil) async throws -> HTTPResponse {
        let bytes = try body.map { Array(try JSONEncoder().encode($0)) }
        let timestamp = Int(Date().timeIntervalSince1970) + (try await serverSkew())
        let mark = signature.sign(method: method, url: api.baseURL + path, body: String(decoding: bytes ?? [], as: UTF8.self), timestamp: timestamp)
        return try await api.send(method, path, body: bytes, headers: [
            ("X-Ovh-Application", applicationKey), ("X-Ovh-Consumer", consumerKey),
            ("X-Ovh-Timestamp", String(timestamp)), ("X-Ovh-Signature", mark),
        ])
    }

    /// OVH refuses timestamps far from its clock: its time minus ours, asked once.
    private func serverSkew() async throws -> Int {
        if let known = await skew.seconds { return known }
        let now = Int(Date().timeIntervalSince1970)
        let server = try decode(Int.self, try await api.send("GET", "/auth/time"))
        await skew.set(server - now)
        return server - now
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw HostAPIClient.Failure(description: "OVH answered with a body that is not the documented JSON (HTTP \(response.status))", status: response.status)
        }
    }
}
