extension GandiProvider: TokenAPIHost {
    /// `[[provider]] type = "gandi"`: `api_token_file`/`api_token_env` (a personal access
    /// token), `api_url`, `ttl`, `timeout`.
    public typealias Config = TokenAPIConfig<GandiProvider>
    public static let hostName = "Gandi LiveDNS"
    public static let defaultAPIURL = "https://api.gandi.net/v5/livedns"
    /// LiveDNS: 300 seconds to 30 days.
    public static let defaultTTL = 300
    public static let ttlRange = 300...2_592_000
    public static let tokenName = "personal access token"
    public static let tokenHint = "a Gandi personal access token allowed to manage the domain's technical configuration"
}
