/// Where the TXT value for one identifier goes: the `_acme-challenge` name, the name it is
/// really written at (after CNAMEs, RFC 8555 §8.4 and the acme-dns pattern), that name's zone,
/// and the provider that serves the zone.
public struct ChallengeTarget: Sendable, Hashable, Codable {
    /// The identifier without a wildcard label: "example.test" for "*.example.test".
    public var domain: String
    /// "_acme-challenge.example.test".
    public var challengeName: String
    /// Where the record is written: `challengeName`, or the end of its CNAME chain.
    public var recordName: String
    public var zone: String
    /// The provider that writes the record.
    public var provider: String
    /// More providers that write it too (`provider = ["a", "b"]`: multi-primary, or a hidden
    /// primary and a public host); nil for one. Optional, so older journal entries still read.
    public var alsoProviders: [String]?

    public init(domain: String, challengeName: String, recordName: String, zone: String, provider: String, alsoProviders: [String]? = nil) {
        self.domain = domain
        self.challengeName = challengeName
        self.recordName = recordName
        self.zone = zone
        self.provider = provider
        self.alsoProviders = alsoProviders?.isEmpty == true ? nil : alsoProviders
    }

    /// Every provider that writes the record, the first one first.
    public var providers: [String] { [provider] + (alsoProviders ?? []) }
}

/// One TXT value to serve at a target.
public struct ChallengeRecord: Sendable, Hashable, Codable {
    public var target: ChallengeTarget
    public var value: String

    public init(target: ChallengeTarget, value: String) {
        self.target = target
        self.value = value
    }
}
