import ACME
import HTTP

/// draft-ietf-acme-dns-persist: nothing to write; the challenge can be answered when every
/// authoritative server already serves a `_validation-persist` record naming one of the CA's
/// issuer domain names (the challenge's `issuer-domain-names`) and this account.
struct DNSPersist01Solver: ChallengeSolver {
    var kind: ChallengeKind { .dnsPersist01 }

    func record(for challenge: Challenge, of authorization: Authorization, context: SolverContext) async throws -> ChallengeRecord? {
        let identifier = authorization.identifier.value
        let wildcard = authorization.wildcard == true
        let issuers = challenge.issuerDomainNames ?? []
        guard !issuers.isEmpty else {
            throw OperationError("The CA's dns-persist-01 challenge for \(identifier) names no issuer domain (issuer-domain-names is empty).")
        }
        guard await context.dns.persistRecordServed(identifier: identifier, wildcard: wildcard, issuerNames: issuers,
                                                    accountURL: context.accountURL) else {
            let wanted = wildcard ? " with policy=wildcard" : ""
            throw OperationError("No _validation-persist.\(identifier) record\(wanted) served by every authoritative server names \(issuers.map { UntrustedText.clip($0, limit: 80) }.joined(separator: " or ")) and this account (\(context.accountURL)): set one with `dns01 persist -d \(identifier)\(wildcard ? " --wildcard" : "")`.")
        }
        return nil
    }
}
