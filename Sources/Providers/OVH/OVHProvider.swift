import DNS
import HTTP

/// `type = "ovh"`: TXT records through OVHcloud's API with an application key, its secret and
/// a consumer key (signed requests). OVH has no batch call: present creates each value (one
/// request each) and then refreshes the zone once (`POST /domain/zone/{zone}/refresh`, which
/// makes OVH serve the changes); cleanup deletes exactly the record IDs it created, or, in
/// another process (certbot's cleanup hook, a later run's journal), the TXT records whose
/// sub-domain and target are exactly dns01's values, and refreshes once. 429 and 5xx answers
/// are retried after their Retry-After.
public final class OVHProvider: DNSProvider {
    public static let typeName = "ovh"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.applicationSecret, config.consumerKey] }
    public var type: String { Self.typeName }
    let client: OVHClient
    private let created = RecordIDs<Int>()

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        client = OVHClient(baseURL: config.endpoint, applicationKey: config.applicationKey, applicationSecret: config.applicationSecret,
                           consumerKey: config.consumerKey,
                           transport: HostAPIClient.transport(transport, peer: "the OVH API", timeout: config.timeout))
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        guard !records.isEmpty else { return }
        var written = 0
        for record in records {
            do {
                let made = try await client.create(zone: zone, subDomain: relativeName(record.name, zone: zone), target: record.value, ttl: Int(config.ttl))
                await created.remember(record, id: made.id)
                written += 1
            } catch let error as HostAPIClient.Failure where error.status == 404 && written == 0 {
                throw ProviderError(code: .present, provider: name,
                                    message: "\(label): OVH has no zone \(zone) that this consumer key may manage (\(error.description)).",
                                    underlying: error, wroteNothing: true)
            } catch let error as HostAPIClient.Failure {
                throw failure(.present, "could not create the TXT record \(record.name) in zone \(zone)", error, wroteNothing: written == 0)
            }
        }
        try await refresh(zone, code: .present, records)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        var ids: [(TXTRecord, Int)] = []
        var unknown: [TXTRecord] = []
        for record in records {
            let known = await created.forget(record)
            if known.isEmpty { unknown.append(record) } else { ids += known.map { (record, $0) } }
        }
        for subDomain in Set(unknown.map { relativeName($0.name, zone: zone) }).sorted() {
            do {
                for id in try await client.txtRecordIDs(zone: zone, subDomain: subDomain) {
                    let item = try await client.record(zone: zone, id: id)
                    if let record = unknown.first(where: { relativeName($0.name, zone: zone) == subDomain && $0.value == Self.unquoted(item.target) }) {
                        ids.append((record, id))
                    }
                }
            } catch let error as HostAPIClient.Failure {
                throw failure(.cleanup, "could not look up the TXT records at \(subDomain.isEmpty ? zone : "\(subDomain).\(zone)") in zone \(zone)", error)
            }
        }
        guard !ids.isEmpty else { return }
        for (record, id) in ids {
            do {
                try await client.delete(zone: zone, id: id)
            } catch let error as HostAPIClient.Failure where error.status == 404 {
                continue  // gone already
            } catch let error as HostAPIClient.Failure {
                throw failure(.cleanup, "could not delete the TXT record \(record.name) in zone \(zone)", error)
            }
        }
        try await refresh(zone, code: .cleanup, records)
    }

    private func refresh(_ zone: String, code: ProviderError.Code, _ records: [TXTRecord]) async throws {
        do {
            try await client.refresh(zone: zone)
        } catch let error as HostAPIClient.Failure {
            throw failure(code, "could not refresh zone \(zone) after changing \(names(records))", error)
        }
    }

    /// OVH may show a TXT target quoted; dns01's values never hold quotes.
    static func unquoted(_ target: String) -> String {
        target.count >= 2 && target.hasPrefix("\"") && target.hasSuffix("\"") ? String(target.dropFirst().dropLast()) : target
    }
}
