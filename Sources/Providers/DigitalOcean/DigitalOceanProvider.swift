import DNS
import HTTP

/// `type = "digitalocean"`: TXT records through DigitalOcean's API v2 with a personal access
/// token. The domain is the zone's name. DigitalOcean has no batch call: present lists the
/// domain's TXT records once (paginated) and creates each value not already there, one request
/// each; cleanup deletes exactly the record IDs it created, or, in another process (certbot's
/// cleanup hook, a later run's journal), the records whose name and data are exactly dns01's
/// values. 429 and 5xx answers are retried after their Retry-After.
public final class DigitalOceanProvider: DNSProvider {
    public static let typeName = "digitalocean"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.token] }
    public var type: String { Self.typeName }
    let client: DigitalOceanClient
    private let created = RecordIDs<Int>()

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        client = DigitalOceanClient(baseURL: config.apiURL, token: config.token,
                               transport: HostAPIClient.transport(transport, peer: "the DigitalOcean API", timeout: config.timeout))
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        let existing = try await existing(records, zone: zone, code: .present)
        var written = 0
        for record in records where !existing.contains(where: { $0.record == record }) {
            do {
                let made = try await client.create(domain: zone, .init(name: doName(record.name, zone: zone), data: record.value, ttl: Int(config.ttl)))
                await created.remember(record, id: made.id)
                written += 1
            } catch let error as HostAPIClient.Failure {
                throw failure(.present, "could not create the TXT record \(record.name) in zone \(zone)", error, wroteNothing: written == 0)
            }
        }
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        var ids: [(TXTRecord, Int)] = []
        var unknown: [TXTRecord] = []
        for record in records {
            let known = await created.forget(record)
            if known.isEmpty { unknown.append(record) } else { ids += known.map { (record, $0) } }
        }
        if !unknown.isEmpty {
            ids += try await existing(unknown, zone: zone, code: .cleanup).map { ($0.record, $0.id) }
        }
        for (record, id) in ids {
            do {
                try await client.delete(domain: zone, id: id)
            } catch let error as HostAPIClient.Failure where error.status == 404 {
                continue  // gone already: what cleanup wants
            } catch let error as HostAPIClient.Failure {
                throw failure(.cleanup, "could not delete the TXT record \(record.name) in zone \(zone)", error)
            }
        }
    }

    /// DigitalOcean's record name: relative to the domain, "@" at its apex.
    private func doName(_ name: String, zone: String) -> String {
        name == zone ? "@" : relativeName(name, zone: zone)
    }

    /// The domain's TXT records whose name and data are exactly one of `records`.
    private func existing(_ records: [TXTRecord], zone: String, code: ProviderError.Code) async throws -> [(record: TXTRecord, id: Int)] {
        let listed: [DigitalOceanClient.Record]
        do {
            listed = try await client.listTXT(domain: zone)
        } catch let error as HostAPIClient.Failure where error.status == 404 {
            throw ProviderError(code: code, provider: name, message: "\(label): DigitalOcean has no domain \(zone) that this token can see (add the domain under Networking › Domains, or check the token's account).",
                                underlying: error, wroteNothing: true)
        } catch let error as HostAPIClient.Failure {
            throw failure(code, "could not list the TXT records of zone \(zone) (for \(names(records)))", error, wroteNothing: true)
        }
        var found: [(TXTRecord, Int)] = []
        for item in listed {
            if let record = records.first(where: { doName($0.name, zone: zone).lowercased() == item.name.lowercased() && $0.value == item.data }) {
                found.append((record, item.id))
            }
        }
        return found
    }
}
