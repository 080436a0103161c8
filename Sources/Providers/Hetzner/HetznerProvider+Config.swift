import Foundation
import Settings

extension HetznerProvider {
    /// `[[provider]] type = "hetzner"`, validated (STYLE.md 7). The token (a Hetzner Cloud
    /// project's API token, read & write) comes from `api_token_file` (a 0600 file) or the
    /// environment variable `api_token_env` names.
    public struct Config: Sendable {
        public var apiURL: String
        public var token: String
        public var ttl: UInt32
        public var timeout: Duration

        public static let defaultAPIURL = "https://api.hetzner.cloud/v1"
        public static let keys: Set<String> = ["name", "type", "zones", "api_token_file", "api_token_env", "api_url", "ttl", "timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "api_token", what: "API token")
            try settings.rejectUnknownKeys(allowed: Self.keys)
            token = try APISecret.read(settings, key: "api_token", what: "API token",
                                       hint: "a Hetzner Cloud API token with read & write permission, of the project holding the zone", environment: environment)
            apiURL = try APISecret.baseURL(settings, key: "api_url", default: Self.defaultAPIURL)
            ttl = try APISecret.ttl(settings, default: 60, range: 60...2_147_483_647, host: "Hetzner")
            timeout = try APISecret.timeout(settings)
        }
    }
}
