import DNS
import FoundationEssentials
import Glibc
import HTTP

/// `type = "cloudflare"`: TXT records through Cloudflare's API v4 with an API token (Zone ›
/// DNS › Edit). The zone's ID is looked up by name once per run (or taken from `zone_id`); all
/// records of one zone go in one request to the batch endpoint
/// (`POST /zones/{id}/dns_records/batch`, at most 200 operations each: the free plan's limit);
/// cleanup deletes exactly the record IDs it created, or, in another process (certbot's cleanup
/// hook, a later run's journal), the records whose name and content are exactly dns01's values.
/// 429 and 5xx answers are retried after their Retry-After.
public final class CloudflareProvider: DNSProvider {
    public static let typeName = "cloudflare"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.token] }
    public var type: String { Self.typeName }
    let client: CloudflareClient
    private let state = State()

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        let base = transport ?? CurlTransport(peer: "the Cloudflare API", timeout: config.timeout, userAgent: "dns01")
        client = CloudflareClient(baseURL: config.apiURL, token: config.token, transport: RetryingTransport(base, budget: config.timeout * 4))
    }

    /// Record IDs this process created, by record, and zone IDs by zone name.
    actor State {
        var created: [TXTRecord: [String]] = [:]
        var zoneIDs: [String: String] = [:]
        func remember(_ record: TXTRecord, id: String) { created[record, default: []].append(id) }
        func forget(_ record: TXTRecord) -> [String] { created.removeValue(forKey: record) ?? [] }
        func zoneID(_ zone: String) -> String? { zoneIDs[zone] }
        func setZoneID(_ id: String, for zone: String) { zoneIDs[zone] = id }
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        let zoneID = try await zoneID(for: zone, code: .present)
        for var chunk in records.chunked(200).map(Array.init) {
            let result: CloudflareClient.BatchResult
            do {
                do {
                    result = try await client.batch(zoneID: zoneID, deletes: [], posts: posts(chunk))
                } catch let error as CloudflareClient.Failure where error.codes.contains(CloudflareClient.identicalRecordExists) {
                    // A value already there (an earlier attempt, or someone else's record) makes
                    // Cloudflare refuse the whole batch: leave those out, and do not adopt them.
                    let existing = try await existingValues(chunk, zoneID: zoneID, zone: zone)
                    chunk.removeAll { record in existing.contains { $0.record == record } }
                    guard !chunk.isEmpty else { continue }
                    result = try await client.batch(zoneID: zoneID, deletes: [], posts: posts(chunk))
                }
            } catch let error as CloudflareClient.Failure {
                throw failure(.present, "could not create \(chunk.count) TXT record(s) in zone \(zone) (\(chunk.nameList))", error)
            }
            for record in result.posts ?? [] {
                guard let match = chunk.first(where: { $0.name == DomainName.canonical(record.name) && $0.value == record.unquotedContent }) else { continue }
                await state.remember(match, id: record.id)
            }
        }
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        let zoneID = try await zoneID(for: zone, code: .cleanup)
        var ids: [String] = []
        var unknown: [TXTRecord] = []
        for record in records {
            let known = await state.forget(record)
            if known.isEmpty { unknown.append(record) } else { ids += known }
        }
        if !unknown.isEmpty {
            do {
                ids += try await existingValues(unknown, zoneID: zoneID, zone: zone).map(\.id)
            } catch let error as CloudflareClient.Failure {
                throw failure(.cleanup, "could not look up \(unknown.count) TXT record(s) in zone \(zone) (\(unknown.nameList))", error)
            }
        }
        for chunk in ids.chunked(200) {
            do {
                _ = try await client.batch(zoneID: zoneID, deletes: Array(chunk), posts: [])
            } catch let error as CloudflareClient.Failure {
                throw failure(.cleanup, "could not delete \(chunk.count) TXT record(s) in zone \(zone) (\(records.nameList))", error)
            }
        }
    }

    private func posts(_ records: [TXTRecord]) -> [CloudflareClient.NewRecord] {
        records.map { CloudflareClient.NewRecord(type: "TXT", name: $0.name, content: $0.value, ttl: Int(config.ttl)) }
    }

    /// The records at the names of `records` whose content is exactly one of their values.
    private func existingValues(_ records: [TXTRecord], zoneID: String, zone: String) async throws -> [(record: TXTRecord, id: String)] {
        var found: [(TXTRecord, String)] = []
        for name in Set(records.map(\.name)).sorted() {
            for item in try await client.listTXT(zoneID: zoneID, name: name) {
                if let record = records.first(where: { $0.name == name && $0.value == item.unquotedContent }) {
                    found.append((record, item.id))
                }
            }
        }
        return found
    }

    private func zoneID(for zone: String, code: ProviderError.Code) async throws -> String {
        if let configured = config.zoneID { return configured }
        if let known = await state.zoneID(zone) { return known }
        let matches: [CloudflareClient.Zone]
        do {
            matches = try await client.zones(named: zone)
        } catch let error as CloudflareClient.Failure {
            throw failure(code, "could not look up zone \(zone)", error)
        }
        guard let id = matches.first(where: { DomainName.canonical($0.name) == zone })?.id else {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): Cloudflare has no zone \(zone) that this API token can see (check the token's zone resources).")
        }
        await state.setZoneID(id, for: zone)
        return id
    }

    private func failure(_ code: ProviderError.Code, _ what: String, _ error: CloudflareClient.Failure) -> ProviderError {
        ProviderError(code: code, provider: name, message: "\(label) \(what): \(error.description)", underlying: error)
    }
}

extension Array {
    /// Consecutive slices of at most `size` elements.
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
