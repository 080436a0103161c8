import Foundation
import Settings

extension DigitalOceanProvider {
    /// `[[provider]] type = "digitalocean"`, validated (STYLE.md 7). The token comes from
    /// `api_token_file` (a 0600 file) or the environment variable `api_token_env` names.
    public struct Config: Sendable {
        public var apiURL: String
        public var token: String
        public var ttl: UInt32
        public var timeout: Duration

        public static let defaultAPIURL = "https://api.digitalocean.com/v2"
        public static let keys: Set<String> = ["name", "type", "zones", "api_token_file", "api_token_env", "api_url", "ttl", "timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "api_token", what: "API token")
            try settings.rejectUnknownKeys(allowed: Self.keys)
            token = try APISecret.read(settings, key: "api_token", what: "API token",
                                       hint: "a DigitalOcean personal access token with the domain:read, domain:create and domain:delete scopes", environment: environment)
            apiURL = try APISecret.baseURL(settings, key: "api_url", default: Self.defaultAPIURL)
            // DigitalOcean's smallest TTL is 30 seconds.
            ttl = try APISecret.ttl(settings, default: 60, range: 30...86400, host: "DigitalOcean")
            timeout = try APISecret.timeout(settings)
        }
    }
}
