import FoundationEssentials
import Glibc

/// What `dns01 issue` obtained, kept so `dns01 run` renews it the same way (certbot keeps
/// `renewal/NAME.conf` for the same reason): the names, key type, provider(s), profile and
/// challenge type of the request, and when it was issued by hand. Stored by
/// `IssuedRecordStore` as `state_dir/issued/<cert name>.json`.
///
/// Fields added later must be optional, so records written by earlier versions still read.
public struct IssuedRecord: Sendable, Codable, Equatable {
    public var name: String
    public var domains: [String]
    public var keyType: KeyType
    public var provider: String?
    public var alsoProviders: [String]?
    public var profile: String?
    public var challenge: ChallengeKind?
    /// When `dns01 issue` obtained it (and wrote this record).
    public var issuedAt: Date

    public init(name: String, domains: [String], keyType: KeyType, provider: String? = nil, alsoProviders: [String]? = nil,
                profile: String? = nil, challenge: ChallengeKind? = nil, issuedAt: Date) {
        self.name = name
        self.domains = domains
        self.keyType = keyType
        self.provider = provider
        self.alsoProviders = alsoProviders
        self.profile = profile
        self.challenge = challenge
        self.issuedAt = issuedAt
    }

    /// The record of `request`, issued at `now`.
    public init(_ request: IssueRequest, issuedAt now: Date) {
        self.init(name: request.certName, domains: request.domains, keyType: request.keyType, provider: request.provider,
                  alsoProviders: request.alsoProviders.isEmpty ? nil : request.alsoProviders, profile: request.profile,
                  challenge: request.challenge, issuedAt: now)
    }

    /// The `[[certificate]]` it stands for: renewed by `dns01 run` with the defaults of one
    /// (renewal by lifetime, `give_up_after`, no deploy hook, no placeholder).
    public var spec: Configuration.CertificateSpec {
        var spec = Configuration.CertificateSpec(name: name, domains: domains, keyType: keyType, provider: provider, deployHook: nil,
                                                 renewBefore: nil, profile: profile, alsoProviders: alsoProviders ?? [],
                                                 challenge: challenge)
        spec.issuedByHand = issuedAt
        return spec
    }
}

/// Its raw value ("ec256", …) in `IssuedRecord`'s JSON.
extension KeyType: Codable {}
