import FoundationEssentials
import Glibc
import Settings

extension PowerDNSProvider {
    /// `[[provider]] type = "powerdns"`, validated (STYLE.md 7). The API key comes from
    /// `api_key_file` (a 0600 file) or from the environment variable `api_key_env` names; never
    /// from the config itself.
    public struct Config: Sendable {
        /// pdns_server's webserver, without `/api/v1` ("http://127.0.0.1:8081").
        public var apiURL: String
        public var serverID: String
        public var key: String
        public var ttl: UInt32
        public var timeout: Duration
        /// True when no server transfers the zones from this PowerDNS (native database
        /// replication, or no secondaries): then a zone without SOA-EDIT-API is written anyway.
        public var noSecondaries: Bool
        /// "host:port" of `apiURL`, for messages.
        public var host: String

        public static let keys: Set<String> = ["name", "type", "zones", "api_url", "server_id", "api_key_file", "api_key_env",
                                               "ttl", "timeout", "no_secondaries"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "api_key", what: "API key", inlineKeys: ["api_key", "key"])
            try settings.rejectUnknownKeys(allowed: Self.keys)
            key = try APISecret.read(settings, key: "api_key", what: "API key", hint: "the api-key of pdns_server's webserver",
                                     inlineKeys: ["api_key", "key"], environment: environment)
            guard key.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline && $0 != "\0" }) else {
                throw ConfigError("\(settings.context): the API key holds characters an HTTP header cannot carry (it must be printable ASCII).")
            }
            guard var url = try settings.string("api_url") else {
                throw ConfigError("\(settings.context): set api_url, the address of pdns_server's webserver (like \"http://127.0.0.1:8081\").")
            }
            while url.hasSuffix("/") { url.removeLast() }
            if url.hasSuffix("/api/v1") { url.removeLast(7) }
            guard let parsed = URL(string: url), parsed.scheme == "https" || parsed.scheme == "http", let hostName = parsed.host, !hostName.isEmpty else {
                throw ConfigError("\(settings.context): api_url '\(url)' is not an http(s) URL.")
            }
            apiURL = url
            host = parsed.port.map { "\(hostName):\($0)" } ?? hostName
            serverID = try settings.string("server_id") ?? "localhost"
            guard !serverID.isEmpty, serverID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw ConfigError("\(settings.context): server_id '\(serverID)' is not a PowerDNS server id (letters, digits, '-', '_', '.'; usually \"localhost\").")
            }
            let ttl = try settings.integer("ttl") ?? 60
            guard (1...86400).contains(ttl) else {
                throw ConfigError("\(settings.context): ttl \(ttl) is out of range (1 to 86400 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try settings.duration("timeout") ?? .seconds(30)
            guard timeout > .zero else { throw ConfigError("\(settings.context): timeout must be more than 0s.") }
            noSecondaries = try settings.bool("no_secondaries") ?? false
        }
    }
}
