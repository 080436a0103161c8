extension HetznerProvider: TokenAPIHost {
    /// `[[provider]] type = "hetzner"`: `api_token_file`/`api_token_env` (a Hetzner Cloud
    /// project's API token, read & write), `api_url`, `ttl`, `timeout`.
    public typealias Config = TokenAPIConfig<HetznerProvider>
    public static let hostName = "Hetzner"
    public static let defaultAPIURL = "https://api.hetzner.cloud/v1"
    public static let defaultTTL = 60
    public static let ttlRange = 60...2_147_483_647
    public static let tokenName = "API token"
    public static let tokenHint = "a Hetzner Cloud API token with read & write permission, of the project holding the zone"
}
