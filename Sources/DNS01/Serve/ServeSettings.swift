import DNS
import Settings

/// `[serve]`: where `dns01 serve` listens and where its registrations live.
///
///     [serve]
///     listen          = "127.0.0.1:8053"
///     zone            = "acme.example.org"     # registrations are <uuid>.acme.example.org
///     provider        = "bind"                 # the [[provider]] that writes that zone
///     allow_register  = true
///     trusted_proxies = ["127.0.0.1/32"]       # whose X-Forwarded-For is believed
///     tls_certificate = "/var/lib/dns01/live/api/fullchain.pem"   # HTTPS (both or neither;
///     tls_key         = "/var/lib/dns01/live/api/privkey.pem"     # read again on SIGHUP)
public struct ServeSettings: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// The registrations' zone (canonical, no trailing dot).
    public var zone: String
    /// The `[[provider]]` that writes `zone`.
    public var provider: String
    /// Whether `POST /register` creates registrations (false: 403).
    public var allowRegister: Bool
    /// Peers whose `X-Forwarded-For` names the client.
    public var trustedProxies: [CIDR]
    /// The largest request body read; a larger one is 413.
    public var maxRequestBytes: Int
    /// Requests per second per client address (a token bucket with as many tokens); past it 429.
    public var requestsPerSecond: Int
    /// How long `/update` waits for the value at every authoritative server before it answers 504.
    public var updateTimeout: Duration?
    /// How long the first update of a batch waits for others before the provider write.
    public var batchWindow: Duration
    /// bcrypt's cost for new registrations' passwords (acme-dns uses 10).
    public var bcryptCost: Int
    /// HTTPS: the PEM certificate chain (leaf first) and its private key, read at start and on
    /// SIGHUP; both nil for plain HTTP.
    public var tlsCertificate: String? = nil
    public var tlsKey: String? = nil

    static let keys: Set<String> = ["listen", "zone", "provider", "allow_register", "trusted_proxies", "max_request_bytes",
                                    "requests_per_second", "update_timeout", "batch_window", "bcrypt_cost",
                                    "tls_certificate", "tls_key"]

    /// The `[serve]` section, validated; `providers`: the configured `[[provider]]` names.
    public static func parse(_ settings: Settings, providers: [String]) throws -> ServeSettings {
        for (key, name) in [("tls_cert_file", "tls_certificate"), ("tls_key_file", "tls_key")] where settings.has(key) {
            throw ConfigError("[serve]: the key is \(name), not \(key).")
        }
        try settings.rejectUnknownKeys(allowed: keys)
        let listen = try settings.string("listen") ?? "127.0.0.1:8053"
        guard let (host, port) = Self.hostPort(listen) else {
            throw ConfigError("[serve]: listen '\(listen.prefix(80))' is not ADDRESS:PORT (127.0.0.1:8053, [::1]:8053).")
        }
        let zoneText = try settings.requiredString("zone")
        let zone = DomainName.canonical(zoneText)
        guard !zone.isEmpty, zone.split(separator: ".").count >= 2, zone.utf8.count <= 200,
              zone.unicodeScalars.allSatisfy({ $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == ".") }) else {
            throw ConfigError("[serve]: zone '\(zoneText.prefix(80))' is not a domain name of two or more labels in ASCII.")
        }
        let provider = try settings.requiredString("provider")
        guard providers.contains(provider) else {
            throw ConfigError("[serve]: provider '\(provider.prefix(80))' is not a configured [[provider]].")
        }
        let proxies = try (settings.strings("trusted_proxies") ?? []).map { text in
            guard let cidr = CIDR(text) else { throw ConfigError("[serve]: trusted_proxies entry '\(text.prefix(80))' is not an address or CIDR.") }
            return cidr
        }
        let maxBytes = try settings.integer("max_request_bytes") ?? 4096
        guard (256...1 << 20).contains(maxBytes) else { throw ConfigError("[serve]: max_request_bytes \(maxBytes) is out of range (256 to 1048576).") }
        let rate = try settings.integer("requests_per_second") ?? 20
        guard (1...100_000).contains(rate) else { throw ConfigError("[serve]: requests_per_second \(rate) is out of range (1 to 100000).") }
        let window = try settings.duration("batch_window") ?? .milliseconds(50)
        guard window <= .seconds(5) else { throw ConfigError("[serve]: batch_window must be at most 5s.") }
        let cost = try settings.integer("bcrypt_cost") ?? 10
        guard (4...14).contains(cost) else { throw ConfigError("[serve]: bcrypt_cost \(cost) is out of range (4 to 14).") }
        let certificate = try settings.string("tls_certificate"), key = try settings.string("tls_key")
        if (certificate == nil) != (key == nil) {
            throw ConfigError(certificate == nil
                ? "[serve]: tls_key is set without tls_certificate: HTTPS needs both, the certificate chain and its private key."
                : "[serve]: tls_certificate is set without tls_key: HTTPS needs both, the certificate chain and its private key.")
        }
        for (name, path) in [("tls_certificate", certificate), ("tls_key", key)] {
            if let path, path.isEmpty || path.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                throw ConfigError("[serve]: \(name) must be a file's path (it is empty or holds a control character).")
            }
        }
        return ServeSettings(host: host, port: port, zone: zone, provider: provider,
                             allowRegister: try settings.bool("allow_register") ?? false, trustedProxies: proxies,
                             maxRequestBytes: maxBytes, requestsPerSecond: rate, updateTimeout: try settings.duration("update_timeout"),
                             batchWindow: window, bcryptCost: cost, tlsCertificate: certificate, tlsKey: key)
    }

    /// "127.0.0.1:8053", "[::1]:8053", "localhost:8053" split; nil if malformed.
    static func hostPort(_ text: String) -> (String, Int)? {
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { return nil }
            portText = rest.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let port = Int(portText), (0...65535).contains(port) else { return nil }
        return (String(host), port)
    }
}
