import ACME

/// draft-ietf-acme-dns-account-label §3: the dns-01 value at `_<label>._acme-challenge.<domain>`,
/// the label derived from the account URL, so several accounts validate one name side by side.
/// The targets were planned with the account's label (`DNSAccountLabel`), CNAMEs followed as
/// for dns-01.
struct DNSAccount01Solver: ChallengeSolver {
    var kind: ChallengeKind { .dnsAccount01 }

    func record(for challenge: Challenge, of authorization: Authorization, context: SolverContext) async throws -> ChallengeRecord? {
        let token = try context.token(of: challenge, for: authorization)
        let target = try context.target(for: authorization)
        let label = DNSAccountLabel(accountURL: context.accountURL).label
        guard target.challengeName.hasPrefix(label + ".") else {
            throw OperationError("The record for \(authorization.identifier.value) was planned for dns-01, not dns-account-01.")
        }
        return ChallengeRecord(target: target, value: KeyAuthorization.dns01Value(token: token, thumbprint: context.thumbprint))
    }
}
