extension DigitalOceanProvider: TokenAPIHost {
    /// `[[provider]] type = "digitalocean"`: `api_token_file`/`api_token_env`, `api_url`, `ttl`, `timeout`.
    public typealias Config = TokenAPIConfig<DigitalOceanProvider>
    public static let hostName = "DigitalOcean"
    public static let defaultAPIURL = "https://api.digitalocean.com/v2"
    public static let defaultTTL = 60
    /// DigitalOcean's smallest TTL is 30 seconds.
    public static let ttlRange = 30...86400
    public static let tokenName = "API token"
    public static let tokenHint = "a DigitalOcean personal access token with the domain:read, domain:create and domain:delete scopes"
}
