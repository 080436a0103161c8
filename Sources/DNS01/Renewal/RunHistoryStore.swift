import Files
import FoundationEssentials
import Glibc
import Providers

/// Run history per certificate under `state_dir/history/<cert name>.json` (0600, written
/// atomically: a crash leaves the old record or the new one). Certificate names are already
/// safe as file names (`CertificateStore.validateCertName`).
public struct RunHistoryStore: Sendable {
    public let directory: String

    public init(stateDir: String) { directory = stateDir + "/history" }

    public func path(_ name: String) -> String { "\(directory)/\(name).json" }

    /// Whether `name` has a history here.
    public func exists(_ name: String) -> Bool { FileSystem.exists(path(name)) }

    /// The history of `name`; empty when there is none or the file is unreadable (a damaged
    /// record must not stop renewals: the next write replaces it).
    public func read(_ name: String) -> RunHistory {
        let path = path(name)
        guard FileSystem.exists(path), let bytes = try? FileSystem.readBytes(path, limit: .state) else { return RunHistory() }
        return (try? Self.decoder.decode(RunHistory.self, from: Data(bytes))) ?? RunHistory()
    }

    public func write(_ history: RunHistory, for name: String) throws {
        try FileSystem.writeAtomically(Array(try Self.encoder.encode(history)), to: path(name), mode: 0o600)
    }

    /// The history's JSON form, on disk and in the fleet's database.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }

    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// Reads, changes and writes back the history of `name`.
    public func update(_ name: String, _ change: (inout RunHistory) -> Void) throws {
        var history = read(name)
        change(&history)
        try write(history, for: name)
    }
}
