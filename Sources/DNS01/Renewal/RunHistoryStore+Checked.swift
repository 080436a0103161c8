import Files
import FoundationEssentials
import Glibc

extension RunHistoryStore {
    /// When `dns01 run` last ran, and which certificates it looked at and left alone (not due):
    /// one file for the whole run (`history/.checked.json`, hidden: not a certificate's
    /// history), so a run with nothing due writes once, not once per certificate. The next run
    /// replaces it: a certificate it names was not attempted since its last history entry.
    /// `dns01 certificates` shows it as "checked".
    public struct Checked: Sendable, Codable, Equatable {
        public var at: Date
        public var names: [String]
    }

    var checkedPath: String { "\(directory)/.checked.json" }

    public func writeChecked(_ names: [String], at now: Date) throws {
        try FileSystem.writeAtomically(Array(try Self.encoder.encode(Checked(at: now, names: names))), to: checkedPath, mode: 0o600)
    }

    /// The last run's check; nil when there is none (or it cannot be read: the next run rewrites it).
    public func readChecked() -> Checked? {
        guard FileSystem.exists(checkedPath), let bytes = try? FileSystem.readBytes(checkedPath, limit: .state) else { return nil }
        return try? Self.decoder.decode(Checked.self, from: Data(bytes))
    }
}
