import HTTP

/// An authorization (RFC 8555 §7.1.4). `url` is where it was fetched from.
public struct Authorization: Sendable, Decodable {
    public struct Status: RawRepresentable, Hashable, Sendable, Decodable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public var description: String { rawValue }
        public static let pending = Status(rawValue: "pending")
        public static let valid = Status(rawValue: "valid")
        public static let invalid = Status(rawValue: "invalid")
        public static let deactivated = Status(rawValue: "deactivated")
        public static let expired = Status(rawValue: "expired")
        public static let revoked = Status(rawValue: "revoked")
    }

    public var url: String = ""
    public var status: Status
    public var identifier: Identifier
    public var challenges: [Challenge]
    public var wildcard: Bool?
    public var expires: String?

    enum CodingKeys: String, CodingKey { case status, identifier, challenges, wildcard, expires }
}

extension ACMEClient {
    /// RFC 8555 §7.5, POST-as-GET.
    public func authorization(at url: String) async throws -> Authorization {
        try await fetchAuthorization(url).value
    }

    private func fetchAuthorization(_ url: String) async throws -> (value: Authorization, retryAfter: Duration?) {
        let response = try await post(url, payload: nil, what: "fetch authorization \(url)")
        var authorization = try sender.decode(Authorization.self, response, what: "authorization")
        authorization.url = url
        return (authorization, RetryAfter.parse(response.header("Retry-After")))
    }

    /// Polls an authorization until it leaves `pending` (§7.5.1), waiting as `PollSchedule`
    /// says on the client's clock; `invalid` throws the challenge's problem, and so does
    /// `deadline`.
    public func waitForAuthorization(at url: String, deadline: ContinuousClock.Instant) async throws -> Authorization {
        var schedule = PollSchedule(clock: clock, deadline: deadline)
        while true {
            let (authorization, retryAfter) = try await fetchAuthorization(url)
            let name = (authorization.wildcard == true ? "*." : "") + authorization.identifier.value
            switch authorization.status {
            case .valid:
                return authorization
            case .pending:
                try await schedule.wait(retryAfter: retryAfter, what: "the CA to validate \(name)")
            case .invalid:
                // The challenge with a problem, else the one marked invalid (a CA may give no
                // problem document), else the authorization as a whole.
                let failed = authorization.challenges.first { $0.error != nil } ?? authorization.challenges.first { $0.status == "invalid" }
                let problem = failed?.error
                let what = failed.map { "the \(UntrustedText.clip($0.type, limit: 40)) challenge" } ?? "the authorization"
                throw ACMEError(.invalidChallenge, "The CA rejected \(what) for \(name): \(problem?.description ?? "no reason given").", problem: problem)
            default:
                throw ACMEError(.invalidChallenge, "The CA's authorization for \(name) became \(authorization.status.rawValue).")
            }
        }
    }

    /// RFC 8555 §7.5.2: deactivates a pending authorization of an abandoned order, so it does
    /// not count against the CA's pending-authorization limit.
    public func deactivateAuthorization(at url: String) async throws {
        _ = try await post(url, payload: Array(#"{"status":"deactivated"}"#.utf8), what: "deactivate authorization \(url)")
    }
}
