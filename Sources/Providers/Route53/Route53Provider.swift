import DNS
import FoundationEssentials
import Glibc
import HTTP

/// `type = "route53"`: TXT records through Amazon Route 53's API. Route 53 replaces whole
/// record sets, so for each name the current TXT set is read, exactly dns01's values added or
/// removed, and the set written back (UPSERT, or DELETE once nothing is left) — every name of
/// one zone in one ChangeResourceRecordSets. Names are serialised within the process, so the
/// values of a wildcard and its apex (one name) never overwrite each other. `present` returns
/// once GetChange says INSYNC: Route 53's nameservers have the change, and the propagation
/// wait that follows finds it at once.
public final class Route53Provider: DNSProvider {
    public static let typeName = "route53"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { config.credentials.secretValues }
    public var type: String { Self.typeName }
    let client: Route53Client
    private let state = State()

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        let base = transport ?? CurlTransport(peer: "Route 53", timeout: config.timeout, userAgent: "dns01")
        client = Route53Client(endpoint: config.endpoint,
                               signer: AWSSignatureV4(credentials: config.credentials, region: "us-east-1", service: "route53"),
                               transport: RetryingTransport(base, budget: config.timeout * 4))
    }

    /// Hosted zone IDs found.
    actor State {
        var zoneIDs: [String: String] = [:]
        func zoneID(_ zone: String) -> String? { zoneIDs[zone] }
        func setZoneID(_ id: String, _ zone: String) { zoneIDs[zone] = id }
    }
    /// Which names are being changed.
    private let locks = NameLocks()

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, code: .present, adding: true)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, code: .cleanup, adding: false)
    }

    private func change(_ records: [TXTRecord], zone: String, code: ProviderError.Code, adding: Bool) async throws {
        let verb = adding ? "add" : "remove"
        let names = Set(records.map(\.name))
        let zoneID = try await hostedZoneID(zone, code: code)
        await locks.hold(names)
        do {
            var changes: [Route53Client.Change] = []
            for name in names.sorted() {
                let values = records.filter { $0.name == name }.map(\.value)
                let current = try await client.txtSet(zoneID: zoneID, name: name)
                let held = current?.values ?? []
                var kept = held.filter { !values.contains(Route53Client.unquote($0)) }
                if adding { kept += values.map(Route53Client.quote) }
                if kept == held { continue }
                if kept.isEmpty, let current {
                    changes.append(.init(action: "DELETE", set: current))
                } else {
                    changes.append(.init(action: "UPSERT", set: .init(name: name, ttl: current?.ttl ?? Int(config.ttl), values: kept)))
                }
            }
            if !changes.isEmpty {
                let id = try await client.change(zoneID: zoneID, changes)
                if adding && config.waitInSync { try await waitInSync(id) }
            }
            await locks.release(names)
        } catch {
            await locks.release(names)
            if let failure = error as? Route53Client.Failure {
                throw ProviderError(code: code, provider: name,
                                    message: "\(label) could not \(verb) \(records.count) TXT value(s) in zone \(zone) (\(Self.list(names))): \(failure.description)",
                                    underlying: failure)
            }
            throw error
        }
    }

    /// Polls GetChange until INSYNC, at most `insync_timeout`.
    private func waitInSync(_ id: String) async throws {
        let deadline = ContinuousClock.now + config.inSyncTimeout
        var delay = Duration.milliseconds(500)
        while try await client.changeStatus(id) != "INSYNC" {
            guard ContinuousClock.now + delay < deadline else {
                throw Route53Client.Failure(description: "change \(id) was not INSYNC within \(config.inSyncTimeout)")
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func hostedZoneID(_ zone: String, code: ProviderError.Code) async throws -> String {
        if let configured = config.hostedZoneID { return configured }
        if let known = await state.zoneID(zone) { return known }
        let id: String?
        do {
            id = try await client.hostedZoneID(for: zone)
        } catch let failure as Route53Client.Failure {
            throw ProviderError(code: code, provider: name, message: "\(label) could not look up the hosted zone \(zone): \(failure.description)",
                                underlying: failure)
        }
        guard let id else {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): Route 53 has no hosted zone \(zone) that these credentials can see.")
        }
        await state.setZoneID(id, zone)
        return id
    }

    static func list(_ names: Set<String>) -> String {
        let sorted = names.sorted()
        return sorted.prefix(3).joined(separator: ", ") + (sorted.count > 3 ? " and \(sorted.count - 3) more" : "")
    }
}
