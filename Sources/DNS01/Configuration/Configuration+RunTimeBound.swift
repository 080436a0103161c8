extension Configuration {
    /// How long one provider call (present or cleanup of a batch) is allowed in the run's bound:
    /// above every provider's default `timeout` (RFC 2136 10 s, APIs 30 s, shell and zone file
    /// 60 s, Route 53's wait for INSYNC 180 s).
    static let providerCallAllowance: Duration = .seconds(300)

    /// The longest a `dns01 run` (or `dns01 sync`) of this configuration takes when every phase
    /// uses its whole configured bound: the order (`order_timeout`), the propagation wait
    /// (`propagation_timeout`, once per round: two rounds with a `single_value` provider, which
    /// shows a wildcard's and its apex's values one after the other), a present and a cleanup
    /// per provider, each certificate's deploy hook, a notification per certificate and one for
    /// the run, and a minute for the HTTP requests around them. The packaged units' timeout is
    /// set above this for the shipped config, and `dns01 run` extends it (sd_notify
    /// `EXTEND_TIMEOUT_USEC`) to this bound when it is larger.
    public var runTimeBound: Duration {
        let rounds = singleValueProviders.isEmpty ? 1 : 2
        let providerCalls = Self.providerCallAllowance * (2 * max(providers.count, 1))
        let deploys = DeployHook.timeout * certificates.filter { $0.deployHook != nil }.count
        let notifications = (notify?.timeout ?? .zero) * (certificates.count + 1)
        return acme.orderTimeout + dns.propagationTimeout * rounds + providerCalls + deploys + notifications + .seconds(60)
    }
}
