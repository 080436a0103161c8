import DNS
import FoundationEssentials
import Glibc
import HTTP

/// `type = "powerdns"`: TXT records through PowerDNS Authoritative's HTTP API
/// (`/api/v1/servers/{server_id}/zones/{zone}`, header X-API-Key). A PATCH replaces whole
/// RRsets, so each call reads the zone once (GET), adds or removes exactly dns01's values at each
/// name, keeps every other value (and a set's TTL) as it was, and writes every changed name of the
/// zone in one PATCH (REPLACE, or DELETE for a set left empty): two requests per zone and call,
/// whatever the number of names. A PATCH is all or nothing, and REPLACE repeats safely, so 429
/// and 5xx answers are retried after their Retry-After.
///
/// The zone's secondaries see a change only if the SOA serial moves, which the API does only with
/// the zone's SOA-EDIT-API set: `present` refuses a zone without it, before writing, unless
/// `no_secondaries = true` says nothing transfers the zone.
public final class PowerDNSProvider: DNSProvider {
    public static let typeName = "powerdns"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var secretValues: [String] { [config.key] }
    public var type: String { Self.typeName }
    let client: PowerDNSClient

    public init(name: String, zones: [String], config: Config, transport: (any HTTPTransport)? = nil) {
        self.name = name
        self.zones = zones
        self.config = config
        let base = transport ?? CurlTransport(peer: "the PowerDNS API at \(config.host)", timeout: config.timeout, userAgent: "dns01")
        client = PowerDNSClient(serverURL: "\(config.apiURL)/api/v1/servers/\(config.serverID)", key: config.key,
                                transport: RetryingTransport(base, budget: config.timeout * 4))
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        let current = try await read(zone, records, code: .present, doing: "add")
        if !config.noSecondaries && !Self.bumpsSerial(current.soa_edit_api) {
            let setting = (current.soa_edit_api ?? "").isEmpty ? "not set" : "\"\(current.soa_edit_api ?? "")\""
            throw ProviderError(code: .present, provider: name, message: """
                \(label): zone \(zone) on PowerDNS at \(config.host) has SOA-EDIT-API \(setting), so a change through the API keeps \
                its SOA serial and the zone's secondaries would never transfer the TXT records for \(records.nameList): set it \
                (pdnsutil set-meta \(zone) SOA-EDIT-API DEFAULT), or set no_secondaries = true on this provider if no server transfers the zone.
                """, wroteNothing: true)
        }
        try await write(Self.changes(adding: records, to: current.rrsets ?? [], ttl: config.ttl), zone, records, code: .present, doing: "add")
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        let current = try await read(zone, records, code: .cleanup, doing: "remove")
        try await write(Self.changes(removing: records, from: current.rrsets ?? []), zone, records, code: .cleanup, doing: "remove")
    }

    /// SOA-EDIT-API values that move the serial on every API change (PowerDNS's `DEFAULT`,
    /// `INCREASE`, `EPOCH`, `SOA-EDIT`, `SOA-EDIT-INCREASE`); empty and `OFF` leave it alone.
    static func bumpsSerial(_ soaEditAPI: String?) -> Bool {
        guard let value = soaEditAPI?.uppercased(), !value.isEmpty else { return false }
        return value != "OFF"
    }

    // MARK: - RRsets

    /// The TXT RRsets that add `records` to the zone's: each name's current values (their
    /// `disabled` flags and the set's TTL kept) plus the values it lacks. Names that already
    /// hold every value are left out.
    static func changes(adding records: [TXTRecord], to rrsets: [PowerDNSClient.RRset], ttl: UInt32) -> [PowerDNSClient.RRset] {
        var result: [PowerDNSClient.RRset] = []
        for (name, values) in grouped(records) {
            let existing = rrsets.first { $0.type == "TXT" && DomainName.canonical($0.name) == name }
            var contents = existing?.records ?? []
            var changed = false
            for value in values {
                if let index = contents.firstIndex(where: { unquote($0.content) == value }) {
                    if contents[index].disabled == true { contents[index].disabled = false; changed = true }
                } else {
                    contents.append(PowerDNSClient.Record(content: quote(value), disabled: false))
                    changed = true
                }
            }
            guard changed else { continue }
            result.append(PowerDNSClient.RRset(name: name + ".", type: "TXT", ttl: existing?.ttl ?? Int(ttl), changetype: "REPLACE", records: contents))
        }
        return result
    }

    /// The TXT RRsets without exactly `records`' values: REPLACE with the values left, or DELETE
    /// when none is. Names that hold none of the values are left out.
    static func changes(removing records: [TXTRecord], from rrsets: [PowerDNSClient.RRset]) -> [PowerDNSClient.RRset] {
        var result: [PowerDNSClient.RRset] = []
        for (name, values) in grouped(records) {
            guard let existing = rrsets.first(where: { $0.type == "TXT" && DomainName.canonical($0.name) == name }) else { continue }
            let contents = existing.records ?? []
            let kept = contents.filter { !values.contains(unquote($0.content)) }
            guard kept.count != contents.count else { continue }
            result.append(kept.isEmpty
                ? PowerDNSClient.RRset(name: name + ".", type: "TXT", ttl: nil, changetype: "DELETE", records: nil)
                : PowerDNSClient.RRset(name: name + ".", type: "TXT", ttl: existing.ttl, changetype: "REPLACE", records: kept))
        }
        return result
    }

    /// Values by name, names and values sorted, each once.
    private static func grouped(_ records: [TXTRecord]) -> [(String, [String])] {
        Dictionary(grouping: records, by: \.name).map { ($0.key, Set($0.value.map(\.value)).sorted()) }.sorted { $0.0 < $1.0 }
    }

    /// A TXT value as PowerDNS's API takes it: one quoted character-string, '"' and '\' escaped.
    static func quote(_ value: String) -> String {
        var text = "\""
        for character in value {
            if character == "\"" || character == "\\" { text.append("\\") }
            text.append(character)
        }
        return text + "\""
    }

    /// The value of a TXT record's content as PowerDNS shows it (`"a" "b"` → "ab", escapes
    /// undone); content without quotes is taken as it is.
    static func unquote(_ content: String) -> String {
        guard content.contains("\"") else { return content }
        var value = "", inside = false, escaped = false
        for character in content {
            if escaped { value.append(character); escaped = false; continue }
            switch character {
            case "\\" where inside: escaped = true
            case "\"": inside.toggle()
            default: if inside { value.append(character) }
            }
        }
        return value
    }

    // MARK: - Calls

    private func read(_ zone: String, _ records: [TXTRecord], code: ProviderError.Code, doing: String) async throws -> PowerDNSClient.Zone {
        do {
            return try await client.zone(zone)
        } catch let error as PowerDNSClient.Failure {
            let message: String
            switch error.status {
            case 401?, 403?:
                message = "\(label) could not \(doing) TXT records in zone \(zone) (\(records.nameList)): PowerDNS at \(config.host) refused the API key (HTTP \(error.status ?? 401)); check api_key_file or api_key_env against pdns_server's api-key."
            case 404?:
                message = "\(label) could not \(doing) TXT records in zone \(zone) (\(records.nameList)): PowerDNS at \(config.host) (server_id \(config.serverID)) has no zone \(zone)."
            default:
                message = "\(label) could not read zone \(zone) from PowerDNS at \(config.host) to \(doing) TXT records (\(records.nameList)): \(error.description)"
            }
            throw ProviderError(code: code, provider: name, message: message, underlying: error, wroteNothing: code == .present)
        }
    }

    private func write(_ rrsets: [PowerDNSClient.RRset], _ zone: String, _ records: [TXTRecord], code: ProviderError.Code, doing: String) async throws {
        guard !rrsets.isEmpty else { return }
        do {
            try await client.patch(zone, rrsets: rrsets)
        } catch let error as PowerDNSClient.Failure {
            // PowerDNS applies a PATCH in one transaction: an HTTP error answer changed nothing.
            let refused = error.status.map { (400...499).contains($0) } ?? false
            throw ProviderError(code: code, provider: name,
                                message: "\(label) could not \(doing) \(records.count) TXT value(s) in zone \(zone) (\(records.nameList)) at PowerDNS \(config.host): \(error.description)",
                                underlying: error, wroteNothing: code == .present && refused)
        }
    }
}
