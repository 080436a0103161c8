import CoreFoundation
import DNS
import Files
import FoundationEssentials
import Glibc
import Providers
import Synchronization

/// Records presented and not yet cleaned up (DESIGN.md: `state_dir/journal/`). An entry is
/// written, synced, before its records are presented; records leave it once they are cleaned
/// up, by whichever process cleans them (certbot's cleanup hook runs in another process than its
/// auth hook), and an entry left empty is deleted. A crash (even SIGKILL) leaves a list the next
/// run can clean.
///
/// One file per `present` call: `journal/<pid>-<random>-<n>.json`, 0600. Its `owner` is the
/// process whose lifetime the records share (dns01 itself, or certbot for the certbot hooks),
/// named by boot id, pid and start time: a later run touches an entry only once that process is
/// gone, and a pid reused after a reboot does not keep an entry alive.
///
/// The journal tells a root process which TXT values to delete, so it trusts only what dns01
/// could have written: the state and journal directories must be writable by their owner only
/// (`FileSystem.checkPrivateDirectory`), entry files too, and every value must have the dns-01
/// shape (RFC 8555 §8.4: base64url of a SHA-256 digest, 43 characters; `dns01 check`'s probe
/// values have it too) at an `_acme-challenge` name.
///
/// Every method does file I/O (fsync, flock): callers run it on the `BlockingPool`.
public final class Journal: Sendable {
    public struct Entry: Codable, Sendable {
        public var pid: Int32
        /// The process whose lifetime the records share; nil in entries of older versions,
        /// which only have `pid`.
        public var owner: ProcessIdentity?
        public var created: Date
        public var records: [ChallengeRecord]
        /// Cleanups of this entry that failed, the last one's reason, and when to try again.
        public var failures: Int?
        public var lastError: String?
        public var retryAfter: Date?
        /// Who wrote a fleet journal row ("dns01 on web1 pid 1234"); nil in entry files.
        public var writer: String?

        /// "process 1234", or the fleet row's writer: who left the records, for messages.
        public var writerDescription: String { writer ?? "process \(pid)" }
    }

    /// What `scan` found: entries to clean now, entries whose writer is gone but whose next
    /// attempt is not due yet, and files set aside because dns01 did not write them.
    public struct Scan: Sendable {
        public var orphans: [(path: String, entry: Entry)] = []
        public var deferred: [(path: String, entry: Entry)] = []
        public var rejected: [(path: String, reason: String)] = []
    }

    public let stateDir: String
    public let directory: String
    /// Where entries are kept: files under `directory` (`DirectoryJournal`), or rows of the
    /// fleet's database (`DatabaseJournal`).
    let backend: any JournalBackend
    /// The process the entries written through this journal belong to.
    let owner: ProcessIdentity?
    let counter = Mutex(0)
    /// Entry files this process wrote, to tell at exit what is still journaled.
    static let written = Mutex<Set<String>>([])
    /// Fleet journal rows this process wrote, by id, with the records still in them.
    static let writtenRows = Mutex<[String: [ChallengeRecord]]>([:])

    /// `owner`: the process whose lifetime the records share; this process when nil.
    public init(stateDir: String, owner: ProcessIdentity? = nil, backend: any JournalBackend = DirectoryJournal()) {
        self.stateDir = stateDir
        self.backend = backend
        directory = stateDir + "/journal"
        self.owner = owner ?? ProcessIdentity.current()
    }

    /// Refuses a state or journal directory that another user could write to.
    public func checkDirectories() throws {
        try FileSystem.checkPrivateDirectory(stateDir, role: "state_dir")
        try FileSystem.checkPrivateDirectory(directory, role: "The journal directory")
    }

    /// Writes an entry for `records`; returns its path.
    public func add(_ records: [ChallengeRecord]) throws -> String {
        try backend.add(records, in: self)
    }

    /// Takes `records` out of every entry, whoever wrote it: they are no longer published.
    /// Entries left empty are deleted.
    public func forget(_ records: Set<ChallengeRecord>) throws {
        guard !records.isEmpty else { return }
        try backend.forget(records, in: self)
    }

    /// Takes `records` out of the entry at `path`; deletes it when nothing is left.
    public func remove(_ records: Set<ChallengeRecord>, from path: String) throws {
        guard !records.isEmpty else { return }
        try backend.remove(records, from: path, in: self)
    }

    /// Notes a failed cleanup of the entry at `path`: one more failure, its reason, and the
    /// time before which no run tries again. Returns the entry as written.
    @discardableResult
    public func recordFailure(at path: String, reason: String, now: Date = Date()) throws -> Entry? {
        try backend.recordFailure(at: path, reason: reason, now: now, in: self)
    }

    /// Back-off between cleanups of an entry that keeps failing: 1 h after the first failure,
    /// doubling, at most a week.
    public static func retryDelay(afterFailures failures: Int) -> TimeInterval {
        let doublings = min(max(failures, 1), 9) - 1
        return min(3600 * Double(1 << doublings), 7 * 86400)
    }

    /// Entries whose writer is gone, split into those due for cleanup and those waiting for
    /// their back-off; entries dns01 did not write are set aside (files renamed `NAME.rejected`)
    /// and reported.
    public func scan(now: Date = Date()) throws -> Scan {
        try backend.scan(now: now, in: self)
    }

    /// Records that entries of this journal's owner still hold: what a client's earlier hook
    /// calls of the same run presented. None with fleet storage, whose rows belong to database
    /// sessions (hooks journal in the state directory).
    public func ownersRecords() throws -> [ChallengeRecord] {
        try backend.ownersRecords(in: self)
    }

    /// Records in entries this process wrote that are still journaled (not removed).
    public static func unremovedByThisProcess() -> [ChallengeRecord] {
        let rows = writtenRows.withLock { $0 }
        let paths = written.withLock { $0 }
        return paths.sorted().flatMap { path -> [ChallengeRecord] in
            guard let bytes = try? FileSystem.readBytes(path, limit: .state), let entry = try? decoder.decode(Entry.self, from: Data(bytes)) else { return [] }
            return entry.records
        } + rows.keys.sorted().flatMap { rows[$0] ?? [] }
    }

    /// Entry files' JSON (ISO 8601 dates).
    static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }

    /// Whether the entry's writer is gone.
    func isOrphan(_ entry: Entry) -> Bool {
        if let owner = entry.owner { return !owner.isRunning }
        // An entry of an older version names a pid only: its writer is gone when no process has
        // that pid, or when the one that has it started after the entry was written.
        guard ProcessIdentity.pidExists(entry.pid) else { return true }
        guard let started = ProcessIdentity.startDate(of: entry.pid) else { return entry.pid == getpid() }
        return started > entry.created.addingTimeInterval(1)
    }

    /// A value dns01 writes: RFC 8555 §8.4's base64url SHA-256 digest, 43 characters.
    public static func isChallengeValue(_ value: String) -> Bool {
        value.utf8.count == 43 && value.utf8.allSatisfy { byte in
            (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || byte == 0x5F
        }
    }

    /// Throws unless the file and every record in it are what dns01 writes.
    static func validate(_ entry: Entry, file path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw FileSystem.systemError(path, "read the attributes of") }
        guard info.st_mode & S_IFMT == S_IFREG else { throw JournalError(.untrusted, "it is not a regular file") }
        guard info.st_uid == geteuid() || info.st_uid == 0 else { throw JournalError(.untrusted, "it is owned by uid \(info.st_uid)") }
        guard info.st_mode & 0o022 == 0 else { throw JournalError(.untrusted, "others may write to it") }
        try validateRecords(entry)
    }

    /// Throws unless every record is one dns01 writes: a dns-01 value at an _acme-challenge name.
    static func validateRecords(_ entry: Entry) throws {
        for record in entry.records {
            guard isChallengeValue(record.value) else {
                throw JournalError(.foreignRecord, "it names a TXT value at \(record.target.recordName) that is not a dns-01 value")
            }
            guard isChallengeName(record.target.challengeName),
                  !record.target.zone.isEmpty,
                  DomainName.isSubdomain(record.target.recordName, of: record.target.zone) else {
                throw JournalError(.foreignRecord, "it names \(record.target.recordName) in zone \(record.target.zone), not an _acme-challenge record of that zone")
            }
        }
    }

    /// "_acme-challenge.NAME" (dns-01), or "_LABEL._acme-challenge.NAME" with a dns-account-01
    /// label: "_" and 16 base32 characters.
    static func isChallengeName(_ name: String) -> Bool {
        let lower = name.lowercased()
        if lower.hasPrefix("_acme-challenge.") { return true }
        let labels = lower.split(separator: ".", maxSplits: 1)
        guard labels.count == 2, labels[1].hasPrefix("_acme-challenge."), labels[0].count == 17, labels[0].first == "_" else { return false }
        return labels[0].dropFirst().allSatisfy { ("a"..."z").contains($0) || ("2"..."7").contains($0) }
    }

    /// An error as a clause inside a sentence: without its final period.
    static func reason(_ error: any Error) -> String {
        let text = describe(error)
        return text.hasSuffix(".") ? String(text.dropLast()) : text
    }
}
