import ACME

/// RFC 8555 §8.4: the key authorization's digest at `_acme-challenge.<domain>` (or where its
/// CNAME leads).
struct DNS01Solver: ChallengeSolver {
    var kind: ChallengeKind { .dns01 }

    func record(for challenge: Challenge, of authorization: Authorization, context: SolverContext) async throws -> ChallengeRecord? {
        let token = try context.token(of: challenge, for: authorization)
        return ChallengeRecord(target: try context.target(for: authorization),
                               value: KeyAuthorization.dns01Value(token: token, thumbprint: context.thumbprint))
    }
}
