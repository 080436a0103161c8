import DNS
import HTTP

/// `type = "desec"`: TXT records through deSEC's API with a token (best a scoped one: see
/// README). deSEC replaces whole RRsets, so both present and cleanup read the domain's TXT
/// RRsets once and write every changed RRset back in one bulk PATCH: two requests each way
/// whatever the number of names. Other values at the names stay; cleanup takes out exactly
/// dns01's values (an RRset left empty is deleted). deSEC has no conditional write: a change
/// another client makes between the read and the write is lost, as with any read-modify-write
/// host. 429s (deSEC's rate limits) are retried after their Retry-After.
public final class DeSECProvider: DNSProvider {
    public static let typeName = "desec"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.token] }
    public var type: String { Self.typeName }
    let client: DeSECClient

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        client = DeSECClient(baseURL: config.apiURL, token: config.token,
                               transport: HostAPIClient.transport(transport, peer: "the deSEC API", timeout: config.timeout))
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, .add)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, .remove)
    }

    /// Reads the zone's TXT RRsets, applies `edit` to each name of `records`, and writes the
    /// RRsets that changed in one PATCH.
    private func change(_ records: [TXTRecord], zone: String, _ edit: TXTValueEdit) async throws {
        let code = edit.code
        let current: [DeSECClient.RRset]
        do {
            current = try await client.listTXT(domain: zone)
        } catch let error as HostAPIClient.Failure where error.status == 404 {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): deSEC has no domain \(zone) that this token can see (\(error.description)).",
                                underlying: error, wroteNothing: true)
        } catch let error as HostAPIClient.Failure {
            throw failure(code, "could not read the TXT RRsets of zone \(zone) (for \(names(records)))", error, wroteNothing: true)
        }
        var changed: [DeSECClient.RRset] = []
        for (subname, values) in valuesByName(records, zone: zone, apex: "", quoted: true) {
            let existing = current.first { $0.subname.lowercased() == subname }
            let before = existing?.records ?? []
            let after = edit.apply(to: before, values)
            guard after != before else { continue }
            changed.append(DeSECClient.RRset(subname: subname, type: "TXT", ttl: existing?.ttl ?? Int(config.ttl), records: after))
        }
        guard !changed.isEmpty else { return }
        do {
            try await client.patch(domain: zone, changed)
        } catch let error as HostAPIClient.Failure {
            throw failure(code, "could not \(edit.verb) \(records.count) TXT value(s) in zone \(zone) (\(names(records)))", error, wroteNothing: true)
        }
    }
}
