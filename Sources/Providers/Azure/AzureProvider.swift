import DNS
import FoundationEssentials
import Glibc
import HTTP

/// `type = "azure"`: TXT records through Azure DNS (Azure Resource Manager, api-version
/// 2018-05-01) with an app registration's client secret or the machine's managed identity. The
/// zone is looked up by name once per run. A PUT replaces a whole record set, so the TXT set at
/// each name is read, exactly dns01's values added or removed, and the set written back with
/// `If-Match` its etag (`If-None-Match: *` for a new one; DELETE once nothing is left): a set
/// changed by someone else in between is read again (412), never overwritten. ARM has no batch
/// for record sets, so each name costs one read and one write, a few names at a time. The
/// OAuth 2.0 token is fetched once and kept until shortly before it expires. 429 and 5xx
/// answers are retried after their Retry-After.
public final class AzureProvider: DNSProvider {
    public static let typeName = "azure"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { config.secretValues }
    public var type: String { Self.typeName }
    let client: AzureDNSClient
    private let state = State()
    private let locks = NameLocks()
    static let conflictAttempts = 3
    /// Azure's token audience for Resource Manager.
    static let resource = "https://management.azure.com/"

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        let base = transport ?? CurlTransport(peer: "Azure DNS", timeout: config.timeout, userAgent: "dns01")
        let retrying = RetryingTransport(base, budget: config.timeout * 4)
        let redactor = Redactor(secrets: config.secretValues)
        let token: OAuth2Token
        switch config.credential {
        case .clientSecret(let tenant, let clientID, let secret):
            let url = "\(config.authorityURL)/\(PercentEncoding.encode(tenant))/oauth2/v2.0/token"
            token = OAuth2Token(source: "Microsoft Entra ID's token endpoint (\(CurlTransport.host(of: url)))", transport: retrying,
                                redactor: redactor) {
                HTTPRequest(method: "POST", url: url,
                            headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                            body: OAuth2Token.form([("grant_type", "client_credentials"), ("client_id", clientID), ("client_secret", secret),
                                                    ("scope", Self.resource + ".default")]))
            }
        case .managedIdentity(let clientID):
            let url = config.metadataURL + "?api-version=2018-02-01&resource=\(PercentEncoding.encode(Self.resource))"
                + (clientID.map { "&client_id=\($0)" } ?? "")
            token = OAuth2Token(source: "the managed identity endpoint (\(CurlTransport.host(of: url)))", transport: retrying, redactor: redactor) {
                HTTPRequest(method: "GET", url: url, headers: [("Metadata", "true"), ("Accept", "application/json")])
            }
        }
        client = AzureDNSClient(baseURL: config.apiURL, transport: retrying, token: token, redactor: redactor)
    }

    /// Zone resource IDs found, by zone name.
    actor State {
        var zoneIDs: [String: String] = [:]
        func zoneID(_ zone: String) -> String? { zoneIDs[zone] }
        func setZoneID(_ id: String, for zone: String) { zoneIDs[zone] = id }
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, code: .present, adding: true)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, code: .cleanup, adding: false)
    }

    private func change(_ records: [TXTRecord], zone: String, code: ProviderError.Code, adding: Bool) async throws {
        let names = Set(records.map(\.name))
        let zoneID = try await zoneID(for: zone, code: code)
        await locks.hold(names)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                var pending = names.sorted()[...]
                for _ in 0..<4 {
                    guard let name = pending.popFirst() else { break }
                    group.addTask { try await self.write(name, records, zone: zone, zoneID: zoneID, adding: adding) }
                }
                while try await group.next() != nil {
                    if let name = pending.popFirst() {
                        group.addTask { try await self.write(name, records, zone: zone, zoneID: zoneID, adding: adding) }
                    }
                }
            }
            await locks.release(names)
        } catch {
            await locks.release(names)
            if let failure = error as? AzureDNSClient.Failure {
                throw ProviderError(code: code, provider: name,
                                    message: "\(label) could not \(adding ? "add" : "remove") \(records.count) TXT value(s) in zone \(zone) (\(Route53Provider.list(names))): \(failure.description)",
                                    underlying: failure)
            }
            throw error
        }
    }

    /// Read, change, write back one name's set, again if it changed in between.
    private func write(_ name: String, _ records: [TXTRecord], zone: String, zoneID: String, adding: Bool) async throws {
        let values = records.filter { $0.name == name }.map(\.value)
        let relative = name == zone ? "@" : String(name.dropLast(zone.count + 1))
        for attempt in 1...Self.conflictAttempts {
            let current = try await client.txtSet(zoneID: zoneID, relative: relative)
            let held = current?.values ?? []
            let kept = adding ? held + values.filter { !held.contains($0) } : held.filter { !values.contains($0) }
            if kept == held { return }
            do {
                if kept.isEmpty {
                    try await client.delete(zoneID: zoneID, relative: relative, etag: current?.etag)
                } else {
                    try await client.put(zoneID: zoneID, relative: relative, ttl: current?.ttl ?? Int(config.ttl), values: kept,
                                         etag: current?.etag)
                }
                return
            } catch let failure as AzureDNSClient.Failure where failure.isConflict && attempt < Self.conflictAttempts {
                continue
            }
        }
    }

    private func zoneID(for zone: String, code: ProviderError.Code) async throws -> String {
        if let known = await state.zoneID(zone) { return known }
        let matches: [AzureDNSClient.Zone]
        do {
            matches = try await client.zones(subscription: config.subscriptionID, resourceGroup: config.resourceGroup)
        } catch let failure as AzureDNSClient.Failure {
            throw ProviderError(code: code, provider: name, message: "\(label) could not look up zone \(zone): \(failure.description)",
                                underlying: failure, wroteNothing: true)
        }
        guard let found = matches.first(where: { DomainName.canonical($0.name) == zone }),
              found.id.hasPrefix("/subscriptions/"), !found.id.contains("?"), !found.id.contains("#") else {
            let scope = config.resourceGroup.map { "resource group \($0) of subscription \(config.subscriptionID)" } ?? "subscription \(config.subscriptionID)"
            throw ProviderError(code: code, provider: name,
                                message: "\(label): Azure DNS has no zone \(zone) in \(scope) that these credentials can see.", wroteNothing: true)
        }
        await state.setZoneID(found.id, for: zone)
        return found.id
    }
}
