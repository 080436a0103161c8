import FoundationEssentials
import Glibc
import Settings

extension Route53Provider {
    /// `[[provider]] type = "route53"`, validated (STYLE.md 7). Credentials are AWS's usual
    /// ones (environment, or a profile of the shared credentials file); the endpoint is
    /// `endpoint`, else `AWS_ENDPOINT_URL_ROUTE_53`, else `AWS_ENDPOINT_URL` (as AWS's SDKs read
    /// them), else Route 53's own.
    public struct Config: Sendable {
        public var endpoint: String
        public var credentials: AWSCredentials
        public var hostedZoneID: String?
        public var ttl: UInt32
        public var timeout: Duration
        public var waitInSync: Bool
        public var inSyncTimeout: Duration

        public static let defaultEndpoint = "https://route53.amazonaws.com"
        public static let keys: Set<String> = ["name", "type", "zones", "hosted_zone_id", "credentials_file", "profile", "endpoint",
                                               "ttl", "timeout", "wait_insync", "insync_timeout"]

        public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
            if settings.has("aws_secret_access_key") || settings.has("secret_access_key") {
                throw ConfigError("\(settings.context): AWS secrets never go in the config: use AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or a credentials_file and profile.")
            }
            try settings.rejectUnknownKeys(allowed: Self.keys)
            let configured = try settings.string("endpoint")
            endpoint = configured ?? [environment["AWS_ENDPOINT_URL_ROUTE_53"], environment["AWS_ENDPOINT_URL"]]
                .compactMap { $0 }.first { !$0.isEmpty } ?? Self.defaultEndpoint
            while endpoint.hasSuffix("/") { endpoint.removeLast() }
            guard let url = URL(string: endpoint), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw ConfigError("\(settings.context): endpoint '\(endpoint)' is not an http(s) URL.")
            }
            credentials = try AWSCredentials.resolve(context: settings.context, credentialsFile: try settings.string("credentials_file"),
                                                     profile: try settings.string("profile"), environment: environment)
            hostedZoneID = try settings.string("hosted_zone_id").map { id in
                let bare = id.hasPrefix("/hostedzone/") ? String(id.dropFirst(12)) : id
                guard !bare.isEmpty, bare.allSatisfy({ $0.isASCII && ($0.isUppercase || $0.isNumber) }) else {
                    throw ConfigError("\(settings.context): hosted_zone_id '\(id)' is not a Route 53 hosted zone ID (like Z0123456789ABCDEFGHIJ).")
                }
                return bare
            }
            if hostedZoneID != nil, (try settings.strings("zones") ?? []).count != 1 {
                throw ConfigError("\(settings.context): hosted_zone_id names one zone, so zones must list exactly that one.")
            }
            let ttl = try settings.integer("ttl") ?? 60
            guard (0...604_800).contains(ttl) else {
                throw ConfigError("\(settings.context): ttl \(ttl) is out of range (0 to 604800 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try settings.duration("timeout") ?? .seconds(30)
            guard timeout > .zero else { throw ConfigError("\(settings.context): timeout must be more than 0s.") }
            waitInSync = try settings.bool("wait_insync") ?? true
            inSyncTimeout = try settings.duration("insync_timeout") ?? .seconds(180)
        }
    }
}
