import FoundationEssentials
import Glibc
import Settings

extension OVHProvider {
    /// `[[provider]] type = "ovh"`, validated (STYLE.md 7). `endpoint` is ovh-eu (default),
    /// ovh-ca, ovh-us or an http(s) URL; `application_key` names the application (not a
    /// secret); the application secret and the consumer key come from `*_file` (0600 files) or
    /// the environment variables `*_env` name.
    public struct Config: Sendable {
        public var endpoint: String
        public var applicationKey: String
        public var applicationSecret: String
        public var consumerKey: String
        public var ttl: UInt32
        public var timeout: Duration

        /// OVHcloud's API endpoints by name, as OVH's own clients name them.
        public static let endpoints = ["ovh-eu": "https://eu.api.ovh.com/1.0", "ovh-ca": "https://ca.api.ovh.com/1.0",
                                       "ovh-us": "https://api.us.ovhcloud.com/1.0"]
        public static let keys: Set<String> = ["name", "type", "zones", "endpoint", "application_key",
                                               "application_secret_file", "application_secret_env", "consumer_key_file", "consumer_key_env",
                                               "ttl", "timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            try APISecret.refuseInline(settings, key: "application_secret", what: "application secret")
            try APISecret.refuseInline(settings, key: "consumer_key", what: "consumer key")
            try settings.rejectUnknownKeys(allowed: Self.keys)
            let endpoint = try settings.string("endpoint") ?? "ovh-eu"
            if let known = Self.endpoints[endpoint] {
                self.endpoint = known
            } else if endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://") {
                self.endpoint = try APISecret.baseURL(settings, key: "endpoint", default: endpoint)
            } else {
                throw ConfigError("\(settings.context): endpoint '\(endpoint)' is neither ovh-eu, ovh-ca, ovh-us nor an http(s) URL.")
            }
            guard let key = try settings.string("application_key"), !key.isEmpty,
                  key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
                throw ConfigError("\(settings.context): set application_key to the application key OVH gave when the application was created (letters and digits).")
            }
            applicationKey = key
            applicationSecret = try APISecret.read(settings, key: "application_secret", what: "application secret",
                                                   hint: "the OVH application secret", environment: environment)
            consumerKey = try APISecret.read(settings, key: "consumer_key", what: "consumer key",
                                             hint: "an OVH consumer key granted GET/POST/DELETE on /domain/zone/<zone>/*", environment: environment)
            ttl = try APISecret.ttl(settings, default: 60, range: 60...86400, host: "OVH")
            timeout = try APISecret.timeout(settings)
        }
    }
}
