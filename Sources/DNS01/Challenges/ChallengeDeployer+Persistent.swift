import DNS
import FoundationEssentials
import Glibc
import Providers

/// dns-persist-01 records (draft-ietf-acme-dns-persist-01): written and removed through the same
/// providers as challenge records, but never journaled. They are meant to stay, and the journal
/// exists to delete what a run left behind; a record `dns01 persist` wrote is removed only by
/// `dns01 persist --remove`.
extension ChallengeDeployer {
    /// Where the `_validation-persist` record of `name` goes ("*.example.com" and "example.com"
    /// share one, §5). The CNAME chain is followed, as the CA's resolver follows it; the
    /// providers are chosen as for `_acme-challenge` names: the zone's (`[[zone]] provider`),
    /// else the one whose `zones` has the longest suffix of the name.
    public func persistTarget(for name: String) async throws -> ChallengeTarget {
        let validationName = PersistRecord.validationName(for: name)
        let domain = String(validationName.dropFirst(PersistRecord.label.count + 1))
        return try await target(recordAt: validationName, domain: domain)
    }

    /// Writes the records, one provider call per (provider, zone), without a journal entry.
    /// Throws the first failure once every call has finished.
    public func presentPersistent(_ records: [ChallengeRecord]) async throws {
        let outcomes = await forEachGroup(of: records, verb: "wrote") { provider, zone, txt in
            try await provider.present(txt, zone: zone)
        }
        if let failure = outcomes.compactMap(\.error).first { throw failure }
    }

    /// Removes exactly these values (other values at the same names stay), without touching the
    /// journal. Throws the first failure once every call has finished.
    public func removePersistent(_ records: [ChallengeRecord]) async throws {
        let outcomes = await forEachGroup(of: records, verb: "removed") { provider, zone, txt in
            try await provider.cleanup(txt, zone: zone)
        }
        if let failure = outcomes.compactMap(\.error).first { throw failure }
    }
}
