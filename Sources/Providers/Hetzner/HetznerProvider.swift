import DNS
import HTTP

/// `type = "hetzner"`: TXT records through the Hetzner Cloud API (api.hetzner.cloud/v1, which
/// took over DNS from the old dns.hetzner.com console API) with a project's API token. The zone
/// is named by its name, so nothing is looked up; each name's values go in one `add_records`
/// action (the RRSet is created if missing, other values stay) and leave in one
/// `remove_records` action with exactly dns01's values (the RRSet goes when empty): one request
/// per name each way. 429 and 5xx answers are retried after their Retry-After.
public final class HetznerProvider: DNSProvider {
    public static let typeName = "hetzner"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.token] }
    public var type: String { Self.typeName }
    let client: HetznerClient

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        client = HetznerClient(baseURL: config.apiURL, token: config.token,
                               transport: HostAPIClient.transport(transport, peer: "the Hetzner API", timeout: config.timeout))
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        var written = false
        for (owner, values) in valuesByName(records, zone: zone, apex: "@", quoted: false) {
            do {
                try await client.add(zone: zone, name: owner, values: values, ttl: Int(config.ttl))
                written = true
            } catch let error as HostAPIClient.Failure where error.status == 404 && !written {
                throw ProviderError(code: .present, provider: name,
                                    message: "\(label): Hetzner has no zone \(zone) in the project of this API token (\(error.description)).",
                                    underlying: error, wroteNothing: true)
            } catch let error as HostAPIClient.Failure {
                throw failure(.present, "could not add \(values.count) TXT value(s) at \(absolute(owner, zone)) in zone \(zone)", error, wroteNothing: !written)
            }
        }
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        for (owner, values) in valuesByName(records, zone: zone, apex: "@", quoted: false) {
            do {
                try await client.remove(zone: zone, name: owner, values: values)
            } catch let error as HostAPIClient.Failure where error.status == 404 {
                continue  // no such RRSet (or zone): nothing of ours is there
            } catch let error as HostAPIClient.Failure {
                throw failure(.cleanup, "could not remove \(values.count) TXT value(s) at \(absolute(owner, zone)) in zone \(zone)", error)
            }
        }
    }

    private func absolute(_ owner: String, _ zone: String) -> String { owner == "@" ? zone : "\(owner).\(zone)" }
}
