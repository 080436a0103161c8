import Foundation
import Providers

/// Records presented and not yet cleaned up (DESIGN.md: `state_dir/journal/`). An entry is
/// written, synced, before its records are presented and removed once they are cleaned up, so a
/// crash (even SIGKILL) leaves a list the next run can clean.
///
/// One file per `present` call: `journal/<pid>-<n>.json`, 0600. The pid tells a later run
/// whether the writer is still alive (a live process's entries are not touched).
public final class Journal: Sendable {
    public struct Entry: Codable, Sendable {
        public var pid: Int32
        public var created: Date
        public var records: [ChallengeRecord]
    }

    public let directory: String
    private let counter = Counter()

    public init(stateDir: String) {
        directory = stateDir + "/journal"
    }

    /// Writes an entry for `records`; returns its path.
    public func add(_ records: [ChallengeRecord]) throws -> String {
        try FileSystem.createDirectory(directory)
        let path = "\(directory)/\(getpid())-\(counter.next()).json"
        let entry = Entry(pid: getpid(), created: Date(), records: records)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try FileSystem.writeAtomically(Array(try encoder.encode(entry)), to: path, mode: 0o600)
        return path
    }

    /// Rewrites the entry at `path` without `cleaned`; removes it when nothing is left.
    public func remove(_ cleaned: Set<ChallengeRecord>, from path: String) {
        guard var entry = read(path) else { return }
        entry.records.removeAll { cleaned.contains($0) }
        if entry.records.isEmpty {
            try? FileSystem.remove(path)
        } else {
            let encoder = JSONEncoder()
            encoder.dateEncodingStrategy = .iso8601
            if let data = try? encoder.encode(entry) {
                try? FileSystem.writeAtomically(Array(data), to: path, mode: 0o600)
            }
        }
    }

    /// Entries left by processes that are no longer running.
    public func orphans() -> [(path: String, entry: Entry)] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.sorted().filter { $0.hasSuffix(".json") }.compactMap { name in
            let path = "\(directory)/\(name)"
            guard let entry = read(path) else { return nil }
            if entry.pid != getpid() && (kill(entry.pid, 0) == 0 || errno == EPERM) { return nil }
            if entry.pid == getpid() { return nil }
            return (path, entry)
        }
    }

    private func read(_ path: String) -> Entry? {
        guard let bytes = try? FileSystem.readBytes(path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(Entry.self, from: Data(bytes))
    }

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock(); defer { lock.unlock() }
            value += 1
            return value
        }
    }
}
