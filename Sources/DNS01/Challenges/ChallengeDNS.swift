import DNS

/// The DNS side of issuance as the coordinator sees it: where records go, writing and removing
/// them, the propagation wait, and standing dns-persist-01 records. `ChallengeDeployer` in the
/// program (real zone finder, providers, nameservers); a scripted one in the state machine's
/// unit tests (STYLE.md 14).
public protocol ChallengeDNS: Sendable {
    /// Targets by identifier ("*.a" and "a" share one); with `accountLabel`, dns-account-01's.
    func targets(for identifiers: [String], providers: [String], accountLabel: String?) async throws -> [String: ChallengeTarget]
    /// Writes the records, one provider call per (provider, zone); one outcome per call.
    func presentEach(_ records: [ChallengeRecord]) async throws -> [ChallengeDeployer.Outcome]
    /// Removes the records, even when the caller is cancelled; returns the failures.
    @discardableResult
    func cleanup(_ records: [ChallengeRecord]) async -> [any Error]
    /// The propagation wait as rounds naming the record names newly visible everywhere.
    func visibility(of records: [ChallengeRecord], timeout: Duration?) async throws -> AsyncThrowingStream<PropagationRound, any Error>
    /// Whether every authoritative server of `identifier`'s zone serves a `_validation-persist`
    /// record that authorizes the CA (`issuerNames`) and the account for it (and for its
    /// subdomains with `wildcard`).
    func persistRecordServed(identifier: String, wildcard: Bool, issuerNames: [String], accountURL: String) async -> Bool
}

extension ChallengeDNS {
    /// Waits until every record is visible everywhere.
    func waitUntilVisible(_ records: [ChallengeRecord]) async throws {
        for try await _ in try await visibility(of: records, timeout: nil) {}
    }
}
