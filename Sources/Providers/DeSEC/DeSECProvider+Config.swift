extension DeSECProvider: TokenAPIHost {
    /// `[[provider]] type = "desec"`: `api_token_file`/`api_token_env`, `api_url`, `ttl`, `timeout`.
    public typealias Config = TokenAPIConfig<DeSECProvider>
    public static let hostName = "deSEC"
    public static let defaultAPIURL = "https://desec.io/api/v1"
    /// deSEC refuses TTLs below the domain's minimum_ttl, 3600 unless deSEC lowered it.
    public static let defaultTTL = 3600
    public static let ttlRange = 1...86400
    public static let tokenName = "API token"
    public static let tokenHint = "a deSEC token, best one scoped to the zone's TXT records at _acme-challenge names"
}
