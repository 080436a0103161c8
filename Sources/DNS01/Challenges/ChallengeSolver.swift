import ACME
import HTTP

/// Solves one challenge type (STYLE.md 2): says what to write, if anything, for one pending
/// authorization. Writing, waiting and answering are the coordinator's.
protocol ChallengeSolver: Sendable {
    var kind: ChallengeKind { get }
    /// The record to write for `challenge`; nil when nothing needs writing. Throws, naming the
    /// identifier, when the challenge cannot be solved.
    func record(for challenge: Challenge, of authorization: Authorization, context: SolverContext) async throws -> ChallengeRecord?
}

/// What solvers know of the job and the account.
struct SolverContext: Sendable {
    var thumbprint: String
    var accountURL: String
    /// Where records go, by identifier ("*.a" and "a" both present) — dns-01's targets, or
    /// dns-account-01's when the certificate uses it.
    var targets: [String: ChallengeTarget]
    var dns: any ChallengeDNS

    /// The target for an authorization's identifier.
    func target(for authorization: Authorization) throws -> ChallengeTarget {
        let identifier = authorization.identifier.value
        let key = authorization.wildcard == true ? "*." + identifier : identifier
        guard let target = targets[key] ?? targets[identifier] ?? targets.values.first(where: { $0.domain == identifier }) else {
            throw OperationError("The CA asked to validate \(identifier), which is not among the names requested.")
        }
        return target
    }

    /// RFC 8555 §8.4: the challenge's token, required by dns-01 and dns-account-01.
    func token(of challenge: Challenge, for authorization: Authorization) throws -> String {
        guard let token = challenge.token, !token.isEmpty else {
            throw OperationError("The CA's \(challenge.type) challenge for \(authorization.identifier.value) has no token.")
        }
        return token
    }
}

/// Picks the challenge of each authorization: the configured type, or dns-persist-01 when the
/// CA offers it and a matching record is served, else dns-01.
struct ChallengeSelection: Sendable {
    let preference: ChallengeKind?

    static let solvers: [ChallengeKind: any ChallengeSolver] = [
        .dns01: DNS01Solver(), .dnsAccount01: DNSAccount01Solver(), .dnsPersist01: DNSPersist01Solver(),
    ]

    func plan(_ authorization: Authorization, context: SolverContext) async throws -> PlannedChallenge {
        let name = (authorization.wildcard == true ? "*." : "") + authorization.identifier.value
        func offered(_ kind: ChallengeKind) -> Challenge? { authorization.challenges.first { $0.type == kind.rawValue } }
        func solve(_ kind: ChallengeKind) async throws -> PlannedChallenge {
            guard let challenge = offered(kind) else {
                let types = authorization.challenges.map(\.type)
                let offers = types.isEmpty ? "none" : types.map { UntrustedText.clip($0, limit: 40) }.joined(separator: ", ")
                throw OperationError("The CA offers no \(kind.rawValue) challenge for \(name) (it offers \(offers)).")
            }
            let solver = Self.solvers[kind] ?? DNS01Solver()
            let record = try await solver.record(for: challenge, of: authorization, context: context)
            return PlannedChallenge(authorization: authorization, challenge: challenge, kind: kind, record: record)
        }
        if let preference { return try await solve(preference) }
        // dns-persist-01 when it needs nothing written; otherwise dns-01, silently.
        if offered(.dnsPersist01) != nil, let planned = try? await solve(.dnsPersist01) { return planned }
        return try await solve(.dns01)
    }
}
