import Files
import FoundationEssentials
import Glibc

/// The certificates `dns01 issue` obtained for `dns01 run` to renew: one `IssuedRecord` per
/// certificate under `state_dir/issued/<cert name>.json` (0600, written atomically: a crash
/// leaves the old record or the new one). Certificate names are already safe as file names
/// (`CertificateStore.validateCertName`).
public struct IssuedRecordStore: Sendable {
    public let directory: String

    public init(stateDir: String) { directory = stateDir + "/issued" }

    public func path(_ name: String) -> String { "\(directory)/\(name).json" }

    public func write(_ record: IssuedRecord) throws {
        try CertificateStore.validateCertName(record.name)
        try FileSystem.writeAtomically(Array(try RunHistoryStore.encoder.encode(record)), to: path(record.name), mode: 0o600)
    }

    /// Forgets `name` (`dns01 issue --no-renew`); nothing to do when there is no record.
    public func remove(_ name: String) throws {
        try FileSystem.remove(path(name))
    }

    /// Every record, by name, and a sentence for each file that cannot be used (damaged, or
    /// naming another certificate than its file name): a bad record must not stop the others.
    public func readAll() -> (records: [IssuedRecord], problems: [String]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { !$0.hasPrefix(".") && $0.hasSuffix(".json") }.sorted()
        var records: [IssuedRecord] = [], problems: [String] = []
        for file in names {
            let path = "\(directory)/\(file)"
            do {
                let record = try RunHistoryStore.decoder.decode(IssuedRecord.self, from: Data(try FileSystem.readBytes(path, limit: .state)))
                guard "\(record.name).json" == file else {
                    problems.append("\(path) names certificate '\(record.name)', not '\(file.dropLast(5))': dns01 run skips it.")
                    continue
                }
                try CertificateStore.validateCertName(record.name)
                // Names from a file are checked as a config's are, before anything is asked for them.
                var checked = record
                checked.domains = try IdentifierList.normalize(record.domains, challenge: record.challenge)
                records.append(checked)
            } catch is DecodingError {
                problems.append("\(path) is not a record of `dns01 issue` (damaged JSON, or a key type or challenge dns01 does not know): dns01 run skips it (issue it again, or remove the file).")
            } catch {
                problems.append("\(path) cannot be read as a record of `dns01 issue`: \(describe(error)); dns01 run skips it (issue it again, or remove the file).")
            }
        }
        return (records, problems)
    }
}
