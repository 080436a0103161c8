import Foundation
import Settings

extension GandiProvider {
    /// `[[provider]] type = "gandi"`, validated (STYLE.md 7). The personal access token comes
    /// from `api_token_file` (a 0600 file) or the environment variable `api_token_env` names.
    public struct Config: Sendable {
        public var apiURL: String
        public var token: String
        public var ttl: UInt32
        public var timeout: Duration

        public static let defaultAPIURL = "https://api.gandi.net/v5/livedns"
        public static let keys: Set<String> = ["name", "type", "zones", "api_token_file", "api_token_env", "api_url", "ttl", "timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "api_token", what: "personal access token")
            try settings.rejectUnknownKeys(allowed: Self.keys)
            token = try APISecret.read(settings, key: "api_token", what: "personal access token",
                                       hint: "a Gandi personal access token allowed to manage the domain's technical configuration", environment: environment)
            apiURL = try APISecret.baseURL(settings, key: "api_url", default: Self.defaultAPIURL)
            // LiveDNS: 300 seconds to 30 days.
            ttl = try APISecret.ttl(settings, default: 300, range: 300...2_592_000, host: "Gandi LiveDNS")
            timeout = try APISecret.timeout(settings)
        }
    }
}
