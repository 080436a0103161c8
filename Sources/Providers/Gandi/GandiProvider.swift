import DNS
import HTTP

/// `type = "gandi"`: TXT records through Gandi's LiveDNS API v5 with a personal access token.
/// LiveDNS replaces an RRset's values whole, so present and cleanup read the domain's TXT
/// records once, then write each changed name's RRset (`PUT`, or `DELETE` when cleanup leaves
/// it empty): one request per name plus one. Other values at the names stay; cleanup takes out
/// exactly dns01's values. LiveDNS has no conditional write: a change another client makes
/// between the read and the write is lost. 429 and 5xx answers are retried after their
/// Retry-After.
public final class GandiProvider: DNSProvider {
    public static let typeName = "gandi"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.token] }
    public var type: String { Self.typeName }
    let client: GandiClient

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        client = GandiClient(baseURL: config.apiURL, token: config.token,
                               transport: HostAPIClient.transport(transport, peer: "the Gandi API", timeout: config.timeout))
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, .add)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await change(records, zone: zone, .remove)
    }

    /// Reads the domain's TXT RRsets once, applies `edit` to each name of `records`, and
    /// writes back each RRset that changed.
    private func change(_ records: [TXTRecord], zone: String, _ edit: TXTValueEdit) async throws {
        let code = edit.code
        let current: [GandiClient.RRset]
        do {
            current = try await client.listTXT(domain: zone)
        } catch let error as HostAPIClient.Failure where error.status == 404 || error.status == 403 {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): Gandi LiveDNS has no domain \(zone) that this token may manage (\(error.description)).",
                                underlying: error, wroteNothing: true)
        } catch let error as HostAPIClient.Failure {
            throw failure(code, "could not read the TXT records of zone \(zone) (for \(names(records)))", error, wroteNothing: true)
        }
        var written = false
        for (owner, values) in valuesByName(records, zone: zone, apex: "@", quoted: true) {
            let existing = current.first { $0.rrset_name.lowercased() == owner }
            let before = (existing?.rrset_values ?? []).map(Self.quoted)
            let after = edit.apply(to: before, values)
            guard after != before else { continue }
            let place = "\(owner == "@" ? zone : "\(owner).\(zone)") in zone \(zone)"
            do {
                if after.isEmpty {
                    try await client.delete(domain: zone, name: owner)
                } else {
                    try await client.replace(domain: zone, name: owner, ttl: existing?.rrset_ttl ?? Int(config.ttl), values: after)
                }
                written = true
            } catch let error as HostAPIClient.Failure {
                throw failure(code, "could not \(edit.verb) TXT value(s) at \(place)", error, wroteNothing: !written)
            }
        }
    }

    /// A TXT value as one quoted character-string (Gandi shows them quoted; a bare one is quoted).
    static func quoted(_ value: String) -> String {
        value.count >= 2 && value.hasPrefix("\"") && value.hasSuffix("\"") ? value : "\"\(value)\""
    }
}
