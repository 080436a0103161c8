import FoundationEssentials
import Glibc

extension IssuedRecordStore {
    /// How `dns01 run` renews a certificate `dns01 issue` has just obtained (`--json`'s
    /// `renewal`).
    public enum Renewal: String, Sendable, Codable {
        /// A `[[certificate]]` of the config names it.
        case config
        /// Recorded in `state_dir/issued/` for `dns01 run`.
        case recorded
        /// Not renewed: `--no-renew`, a certificate for the user's own CSR, or a record that
        /// could not be written (`message` says which).
        case none
    }

    /// After `dns01 issue`: records `request` for `dns01 run` to renew it the same way, unless
    /// a `[[certificate]]` already names it, it came from the user's own CSR (whose key dns01
    /// never holds), or `noRenew` (which also forgets an earlier record). Returns how it will
    /// be renewed and the sentence that tells the user; a record that cannot be written is
    /// said, not thrown: the certificate is issued and stored all the same.
    public static func afterIssue(_ request: IssueRequest, config: Configuration, noRenew: Bool, now: Date = Date())
        -> (renewal: Renewal, message: String)
    {
        let store = IssuedRecordStore(stateDir: config.acme.stateDir)
        let name = request.certName
        if config.certificates.contains(where: { $0.name == name }) {
            return (.config, "dns01 run renews it as the [[certificate]] '\(name)' of \(config.path).")
        }
        if request.csr != nil {
            return (.none, "dns01 run does not renew it: it was issued for your own CSR (run `dns01 issue --csr` again before it expires).")
        }
        if noRenew {
            do {
                try store.remove(name)
            } catch {
                return (.none, "dns01 run was told not to renew it (--no-renew), but its earlier record \(store.path(name)) cannot be removed: \(describe(error))")
            }
            return (.none, "dns01 run will not renew it (--no-renew).")
        }
        do {
            try store.write(IssuedRecord(request, issuedAt: now))
        } catch {
            return (.none, "dns01 run will NOT renew it: its record \(store.path(name)) cannot be written: \(describe(error))")
        }
        return (.recorded, "dns01 run will renew it (recorded in \(store.path(name)); --no-renew to opt out).")
    }
}
