import FoundationEssentials
import Glibc
import Settings

/// What the config of a host reached with one bearer-style token needs to know of it.
public protocol TokenAPIHost {
    /// The host's name in sentences ("DigitalOcean").
    static var hostName: String { get }
    static var defaultAPIURL: String { get }
    static var defaultTTL: Int { get }
    static var ttlRange: ClosedRange<Int> { get }
    /// The token's name in sentences ("API token", "personal access token").
    static var tokenName: String { get }
    /// What to put in the token file, for the sentence when neither key is set.
    static var tokenHint: String { get }
}

/// `[[provider]]` settings of a token host (DigitalOcean, Hetzner, deSEC, Gandi), validated
/// (STYLE.md 7): the token from `api_token_file` (a 0600 file) or the environment variable
/// `api_token_env` names, never from the config; `api_url`, `ttl` within the host's range,
/// `timeout`.
public struct TokenAPIConfig<Host: TokenAPIHost>: Sendable {
    public var apiURL: String
    public var token: String
    public var ttl: UInt32
    public var timeout: Duration

    public static var keys: Set<String> { ["name", "type", "zones", "api_token_file", "api_token_env", "api_url", "ttl", "timeout"] }

    public init(_ settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try APISecret.refuseInline(settings, key: "api_token", what: Host.tokenName)
        try settings.rejectUnknownKeys(allowed: Self.keys)
        token = try APISecret.read(settings, key: "api_token", what: Host.tokenName, hint: Host.tokenHint, environment: environment)
        apiURL = try APISecret.baseURL(settings, key: "api_url", default: Host.defaultAPIURL)
        ttl = try APISecret.ttl(settings, default: Host.defaultTTL, range: Host.ttlRange, host: Host.hostName)
        timeout = try APISecret.timeout(settings)
    }
}
