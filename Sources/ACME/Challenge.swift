/// A challenge (RFC 8555 §7.1.5, §8).
public struct Challenge: Sendable, Decodable, Hashable {
    public var type: String
    public var url: String
    public var token: String?
    public var status: String
    public var error: Problem?
    public var validated: String?
    /// dns-persist-01 (draft-ietf-acme-dns-persist §3): the domain names the CA recognises as
    /// itself in a `_validation-persist` record, the first being the one to write.
    public var issuerDomainNames: [String]?

    enum CodingKeys: String, CodingKey {
        case type, url, token, status, error, validated
        case issuerDomainNames = "issuer-domain-names"
    }

    public static func == (lhs: Challenge, rhs: Challenge) -> Bool { lhs.url == rhs.url && lhs.status == rhs.status }
    public func hash(into hasher: inout Hasher) { hasher.combine(url) }
}

extension ACMEClient {
    /// RFC 8555 §7.5.1: tells the CA the challenge is ready, with the payload `{}`.
    public func respond(to challenge: Challenge) async throws -> Challenge {
        let response = try await post(challenge.url, payload: Array("{}".utf8), what: "answer challenge \(challenge.url)")
        return try sender.decode(Challenge.self, response, what: "challenge")
    }
}
