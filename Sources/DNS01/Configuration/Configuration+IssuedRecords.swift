import FoundationEssentials
import Glibc

extension Configuration {
    /// This config with the certificates `dns01 issue` recorded for renewal
    /// (`IssuedRecordStore`) added after its `[[certificate]]` entries, so `dns01 run` and
    /// `dns01 certificates` treat them alike. A `[[certificate]]` of the same name wins; each
    /// such clash, and each record that cannot be used, is a warning sentence.
    public func addingIssuedRecords() -> (configuration: Configuration, warnings: [String]) {
        let store = IssuedRecordStore(stateDir: acme.stateDir)
        var (records, warnings) = store.readAll()
        var configuration = self
        let configured = Set(certificates.map(\.name))
        for record in records {
            if configured.contains(record.name) {
                warnings.append("Certificate '\(record.name)' is both a [[certificate]] in \(path) and recorded by `dns01 issue` in \(store.path(record.name)): dns01 run follows the config (remove the file to silence this).")
                continue
            }
            configuration.certificates.append(record.spec)
        }
        return (configuration, warnings)
    }
}
