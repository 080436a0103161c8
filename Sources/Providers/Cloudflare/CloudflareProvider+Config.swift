import Files
import FoundationEssentials
import Glibc
import Settings

extension CloudflareProvider {
    /// `[[provider]] type = "cloudflare"`, validated (STYLE.md 7). The token comes from
    /// `api_token_file` (a 0600 file) or from the environment variable `api_token_env` names;
    /// never from the config itself.
    public struct Config: Sendable {
        public var apiURL: String
        public var token: String
        public var zoneID: String?
        public var ttl: UInt32
        public var timeout: Duration

        public static let defaultAPIURL = "https://api.cloudflare.com/client/v4"
        public static let keys: Set<String> = ["name", "type", "zones", "api_token_file", "api_token_env", "zone_id", "api_url", "ttl", "timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "api_token", what: "API token", inlineKeys: ["api_token", "token"])
            try settings.rejectUnknownKeys(allowed: Self.keys)
            token = try APISecret.read(settings, key: "api_token", what: "API token",
                                       hint: "a Cloudflare API token with Zone.DNS edit", environment: environment)
            apiURL = try APISecret.baseURL(settings, key: "api_url", default: Self.defaultAPIURL)
            zoneID = try settings.string("zone_id")
            if let zoneID, zoneID.isEmpty || !zoneID.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) {
                throw ConfigError("\(settings.context): zone_id '\(zoneID)' is not a Cloudflare zone ID (letters and digits).")
            }
            if zoneID != nil, (try settings.strings("zones") ?? []).count != 1 {
                throw ConfigError("\(settings.context): zone_id names one zone, so zones must list exactly that one.")
            }
            let ttl = try settings.integer("ttl") ?? 60
            // Cloudflare: 1 means automatic; otherwise 60 to 86400 seconds.
            guard ttl == 1 || (60...86400).contains(ttl) else {
                throw ConfigError("\(settings.context): ttl \(ttl) is out of Cloudflare's range (1 for automatic, or 60 to 86400 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try APISecret.timeout(settings)
        }
    }
}
