import DNS
import FoundationEssentials
import Glibc
import HTTP

/// `type = "google"`: TXT records through Google Cloud DNS's API v1 with a service account's
/// key. The managed zone is looked up by DNS name once per run (or taken from `managed_zone`).
/// A change replaces whole record sets, so the TXT set at each name is read, exactly dns01's
/// values added or removed, and every name of one zone written back in one change
/// (`changes.create`: the old sets as deletions, the new ones as additions). Google applies a
/// change only while its deletions still match exactly, so a set changed by someone else in
/// between is read again (409/412), never overwritten. The OAuth 2.0 token (RFC 7523 JWT bearer
/// grant) is fetched once and kept until shortly before it expires. 429 and 5xx answers are
/// retried after their Retry-After.
public final class GoogleProvider: DNSProvider {
    public static let typeName = "google"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.privateKeyPEM] }
    public var type: String { Self.typeName }
    let client: GoogleCloudDNSClient
    private let state = State()
    private let locks = NameLocks()
    /// Attempts of one change when the sets changed under it (409/412).
    static let conflictAttempts = 3

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        let base = transport ?? CurlTransport(peer: "Google Cloud DNS", timeout: config.timeout, userAgent: "dns01")
        let retrying = RetryingTransport(base, budget: config.timeout * 4)
        let redactor = Redactor(secrets: [config.privateKeyPEM])
        let token = OAuth2Token(source: "Google's token endpoint (\(CurlTransport.host(of: config.tokenURI)))", transport: retrying,
                                redactor: redactor) { [config] in
            let assertion = try GoogleJWT.assertion(issuer: config.clientEmail, audience: config.tokenURI, keyID: config.keyID,
                                                    key: config.privateKey, now: Date())
            return HTTPRequest(method: "POST", url: config.tokenURI,
                               headers: [("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json")],
                               body: OAuth2Token.form([("grant_type", GoogleJWT.grantType), ("assertion", assertion)]))
        }
        client = GoogleCloudDNSClient(baseURL: config.apiURL, project: config.project, transport: retrying, token: token, redactor: redactor)
    }

    /// Managed zone names found, by DNS name.
    actor State {
        var managedZones: [String: String] = [:]
        func managedZone(_ zone: String) -> String? { managedZones[zone] }
        func setManagedZone(_ name: String, for zone: String) { managedZones[zone] = name }
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, code: .present, adding: true)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, code: .cleanup, adding: false)
    }

    private func change(_ records: [TXTRecord], zone: String, code: ProviderError.Code, adding: Bool) async throws {
        let names = Set(records.map(\.name))
        let managedZone = try await managedZone(for: zone, code: code)
        await locks.hold(names)
        do {
            for attempt in 1...Self.conflictAttempts {
                let (additions, deletions) = try await plan(records, names: names, managedZone: managedZone, adding: adding)
                if additions.isEmpty && deletions.isEmpty { break }
                do {
                    try await client.change(zone: managedZone, additions: additions, deletions: deletions)
                    break
                } catch let failure as GoogleCloudDNSClient.Failure where failure.isConflict && attempt < Self.conflictAttempts {
                    continue
                }
            }
            await locks.release(names)
        } catch {
            await locks.release(names)
            if let failure = error as? GoogleCloudDNSClient.Failure {
                throw ProviderError(code: code, provider: name,
                                    message: "\(label) could not \(adding ? "add" : "remove") \(records.count) TXT value(s) in zone \(zone) (\(Route53Provider.list(names))): \(failure.description)",
                                    underlying: failure)
            }
            throw error
        }
    }

    /// The sets to delete (as they are now) and to add (with exactly dns01's values added or removed).
    private func plan(_ records: [TXTRecord], names: Set<String>, managedZone: String,
                      adding: Bool) async throws -> (additions: [GoogleCloudDNSClient.RRSet], deletions: [GoogleCloudDNSClient.RRSet]) {
        let current = try await currentSets(names.sorted(), managedZone: managedZone)
        var additions: [GoogleCloudDNSClient.RRSet] = [], deletions: [GoogleCloudDNSClient.RRSet] = []
        for name in names.sorted() {
            let values = records.filter { $0.name == name }.map(\.value)
            let set = current[name] ?? nil
            let held = set?.rrdatas ?? []
            var kept = held.filter { !values.contains(GoogleCloudDNSClient.unquote($0)) }
            if adding {
                kept = held + values.filter { value in !held.contains { GoogleCloudDNSClient.unquote($0) == value } }
                    .map(GoogleCloudDNSClient.quote)
            }
            if kept == held { continue }
            if let set { deletions.append(set) }
            if !kept.isEmpty {
                additions.append(.init(name: name + ".", type: "TXT", ttl: set?.ttl ?? Int(config.ttl), rrdatas: kept))
            }
        }
        return (additions, deletions)
    }

    /// The TXT set at each name, read a few at a time.
    private func currentSets(_ names: [String], managedZone: String) async throws -> [String: GoogleCloudDNSClient.RRSet?] {
        try await withThrowingTaskGroup(of: (String, GoogleCloudDNSClient.RRSet?).self) { group in
            var result: [String: GoogleCloudDNSClient.RRSet?] = [:]
            var pending = names[...]
            for _ in 0..<4 {
                guard let name = pending.popFirst() else { break }
                group.addTask { [client] in (name, try await client.txtSet(zone: managedZone, name: name)) }
            }
            while let (name, set) = try await group.next() {
                result[name] = .some(set)
                if let next = pending.popFirst() {
                    group.addTask { [client] in (next, try await client.txtSet(zone: managedZone, name: next)) }
                }
            }
            return result
        }
    }

    private func managedZone(for zone: String, code: ProviderError.Code) async throws -> String {
        if let configured = config.managedZone { return configured }
        if let known = await state.managedZone(zone) { return known }
        let matches: [GoogleCloudDNSClient.ManagedZone]
        do {
            matches = try await client.managedZones(dnsName: zone)
        } catch let failure as GoogleCloudDNSClient.Failure {
            throw ProviderError(code: code, provider: name, message: "\(label) could not look up zone \(zone): \(failure.description)",
                                underlying: failure, wroteNothing: true)
        }
        guard let found = matches.first(where: { GoogleCloudDNSClient.bare($0.dnsName) == zone && $0.visibility != "private" }) else {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): Google Cloud DNS has no public managed zone \(zone) in project \(config.project) that this service account can see.", wroteNothing: true)
        }
        await state.setManagedZone(found.name, for: zone)
        return found.name
    }
}
