import FoundationEssentials
import Glibc
import HTTP

/// The calls of DigitalOcean's API v2 domain records the provider makes
/// (https://docs.digitalocean.com/reference/api/digitalocean/#tag/Domain-Records): list a
/// domain's TXT records page by page, create one, delete one by ID. Errors are
/// `{"id", "message"}`; the token travels only in the Authorization header.
struct DigitalOceanClient: Sendable {
    let api: HostAPIClient
    /// The most records DigitalOcean returns per page.
    static let perPage = 200
    /// Pages followed at most: 40 000 TXT records, far more than a zone holds.
    static let maxPages = 200

    init(baseURL: String, token: String, transport: any HTTPTransport) {
        api = HostAPIClient(host: "DigitalOcean", baseURL: baseURL, transport: transport, secrets: [token],
                            authenticate: { _, _, _ in [("Authorization", "Bearer \(token)")] },
                            messages: { body in
                                guard let error = HostAPIClient.decode(ErrorBody.self, body) else { return [] }
                                return ["\(error.message ?? "no message")\(error.id.map { " (\($0))" } ?? "")"]
                            })
    }

    struct ErrorBody: Decodable {
        var id: String?
        var message: String?
    }

    struct Record: Codable, Sendable {
        var id: Int
        var type: String
        /// Relative to the domain; "@" at the apex.
        var name: String
        var data: String
    }

    struct NewRecord: Encodable, Sendable {
        var type = "TXT"
        var name: String
        var data: String
        var ttl: Int
    }

    private struct Page: Decodable {
        struct Links: Decodable {
            struct Pages: Decodable { var next: String? }
            var pages: Pages?
        }
        var domain_records: [Record]
        var links: Links?
    }

    private struct Created: Decodable { var domain_record: Record }

    /// Every TXT record of `domain`, following `links.pages.next`.
    func listTXT(domain: String) async throws -> [Record] {
        var records: [Record] = []
        for page in 1...Self.maxPages {
            let answer = try await api.json("GET", "/domains/\(HostAPIClient.encode(domain))/records?type=TXT&per_page=\(Self.perPage)&page=\(page)",
                                            as: Page.self)
            records += answer.domain_records
            if answer.links?.pages?.next == nil { break }
        }
        return records
    }

    func create(domain: String, _ record: NewRecord) async throws -> Record {
        try await api.json("POST", "/domains/\(HostAPIClient.encode(domain))/records", body: record, as: Created.self).domain_record
    }

    func delete(domain: String, id: Int) async throws {
        _ = try await api.send("DELETE", "/domains/\(HostAPIClient.encode(domain))/records/\(id)")
    }
}
