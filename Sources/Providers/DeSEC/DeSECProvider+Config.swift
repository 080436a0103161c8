import Foundation
import Settings

extension DeSECProvider {
    /// `[[provider]] type = "desec"`, validated (STYLE.md 7). The token comes from
    /// `api_token_file` (a 0600 file) or the environment variable `api_token_env` names.
    public struct Config: Sendable {
        public var apiURL: String
        public var token: String
        public var ttl: UInt32
        public var timeout: Duration

        public static let defaultAPIURL = "https://desec.io/api/v1"
        public static let keys: Set<String> = ["name", "type", "zones", "api_token_file", "api_token_env", "api_url", "ttl", "timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "api_token", what: "API token")
            try settings.rejectUnknownKeys(allowed: Self.keys)
            token = try APISecret.read(settings, key: "api_token", what: "API token",
                                       hint: "a deSEC token, best one scoped to the zone's TXT records at _acme-challenge names", environment: environment)
            apiURL = try APISecret.baseURL(settings, key: "api_url", default: Self.defaultAPIURL)
            // deSEC refuses TTLs below the domain's minimum_ttl, 3600 unless deSEC lowered it.
            ttl = try APISecret.ttl(settings, default: 3600, range: 1...86400, host: "deSEC")
            timeout = try APISecret.timeout(settings)
        }
    }
}
