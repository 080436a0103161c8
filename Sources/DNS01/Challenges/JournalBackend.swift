import Files
import FoundationEssentials
import Glibc
import Providers
import Synchronization

/// Where a `Journal` keeps its entries (`StateStore.journalBackend`): files under
/// `state_dir/journal` (`DirectoryJournal`) or rows of the fleet's database (`DatabaseJournal`).
/// `Journal` holds what both share (the owner, the dns-01 shape check, the back-off); a backend
/// only stores. An entry is named by a "path": the file's, or `postgres:journal/ID`.
public protocol JournalBackend: Sendable {
    func add(_ records: [ChallengeRecord], in journal: Journal) throws -> String
    func forget(_ records: Set<ChallengeRecord>, in journal: Journal) throws
    func remove(_ records: Set<ChallengeRecord>, from path: String, in journal: Journal) throws
    func recordFailure(at path: String, reason: String, now: Date, in journal: Journal) throws -> Journal.Entry?
    func scan(now: Date, in journal: Journal) throws -> Journal.Scan
    func ownersRecords(in journal: Journal) throws -> [ChallengeRecord]
}

/// The journal as files: one per `present` call, `journal/<pid>-<random>-<n>.json`, 0600,
/// rewritten under an flock of the journal directory.
public struct DirectoryJournal: JournalBackend {
    public init() {}

    public func add(_ records: [ChallengeRecord], in journal: Journal) throws -> String {
        try journal.checkDirectories()
        try FileSystem.createDirectory(journal.directory)
        let number = journal.counter.withLock { value in
            value += 1
            return value
        }
        // The random part keeps a pid reused after a reboot from writing over an orphan.
        let path = "\(journal.directory)/\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))-\(number).json"
        let entry = Journal.Entry(pid: journal.owner?.pid ?? getpid(), owner: journal.owner, created: Date(), records: records)
        try write(entry, to: path)
        Journal.written.withLock { _ = $0.insert(path) }
        return path
    }

    public func forget(_ records: Set<ChallengeRecord>, in journal: Journal) throws {
        guard FileSystem.exists(journal.directory) else { return }
        try withLock(journal) {
            for path in try entryPaths(journal) {
                guard var entry = try? read(path), entry.records.contains(where: records.contains) else { continue }
                entry.records.removeAll { records.contains($0) }
                try save(entry, at: path)
            }
        }
    }

    public func remove(_ records: Set<ChallengeRecord>, from path: String, in journal: Journal) throws {
        try withLock(journal) {
            guard var entry = try? read(path) else { return }
            entry.records.removeAll { records.contains($0) }
            try save(entry, at: path)
        }
    }

    public func recordFailure(at path: String, reason: String, now: Date, in journal: Journal) throws -> Journal.Entry? {
        try withLock(journal) {
            guard var entry = try? read(path) else { return nil }
            let failures = (entry.failures ?? 0) + 1
            entry.failures = failures
            entry.lastError = reason
            entry.retryAfter = now.addingTimeInterval(Journal.retryDelay(afterFailures: failures))
            try save(entry, at: path)
            return entry
        }
    }

    /// Files dns01 did not write are renamed to `NAME.rejected`.
    public func scan(now: Date, in journal: Journal) throws -> Journal.Scan {
        try journal.checkDirectories()
        guard FileSystem.exists(journal.directory) else { return Journal.Scan() }
        return try withLock(journal) {
            var scan = Journal.Scan()
            for path in try entryPaths(journal) {
                let entry: Journal.Entry
                do {
                    entry = try read(path)
                    try Journal.validate(entry, file: path)
                } catch {
                    let aside = path + ".rejected"
                    let moved = rename(path, aside) == 0
                    scan.rejected.append((path, "journal entry \(path) was not written by dns01 (\(Journal.reason(error))), so nothing it names is removed; \(moved ? "it is set aside as \(aside)" : "remove it")."))
                    continue
                }
                guard journal.isOrphan(entry) else { continue }
                scan.add(path, entry, now: now)
            }
            return scan
        }
    }

    public func ownersRecords(in journal: Journal) throws -> [ChallengeRecord] {
        guard let owner = journal.owner else { return [] }
        try journal.checkDirectories()
        guard FileSystem.exists(journal.directory) else { return [] }
        return try withLock(journal) {
            try entryPaths(journal).flatMap { path -> [ChallengeRecord] in
                guard let entry = try? read(path), entry.owner == owner else { return [] }
                return entry.records
            }
        }
    }

    private func entryPaths(_ journal: Journal) throws -> [String] {
        try FileSystem.list(journal.directory).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.sorted().map { "\(journal.directory)/\($0)" }
    }

    private func read(_ path: String) throws -> Journal.Entry {
        do {
            return try Journal.decoder.decode(Journal.Entry.self, from: Data(try FileSystem.readBytes(path, limit: .state)))
        } catch let error as FileSystemError {
            throw error
        } catch {
            throw JournalError(.unreadable, "it is not a journal entry")
        }
    }

    private func write(_ entry: Journal.Entry, to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try FileSystem.writeAtomically(Array(try encoder.encode(entry)), to: path, mode: 0o600)
    }

    /// Rewrites the entry, or deletes it when it holds no record.
    private func save(_ entry: Journal.Entry, at path: String) throws {
        if entry.records.isEmpty {
            try FileSystem.remove(path)
            Journal.written.withLock { _ = $0.remove(path) }
        } else {
            try write(entry, to: path)
        }
    }

    /// Runs `body` holding an exclusive flock on the journal directory itself (no lock file
    /// among the entries), so concurrent processes never rewrite one entry from two stale copies.
    private func withLock<T>(_ journal: Journal, _ body: () throws -> T) throws -> T {
        try FileSystem.createDirectory(journal.directory)
        return try FileLock.holding(journal.directory, directory: true, body)
    }
}

extension Journal.Scan {
    /// Files an orphaned entry as due now, or deferred while its back-off lasts.
    mutating func add(_ path: String, _ entry: Journal.Entry, now: Date) {
        if let retryAfter = entry.retryAfter, retryAfter > now {
            deferred.append((path, entry))
        } else {
            orphans.append((path, entry))
        }
    }
}
