import FoundationEssentials
import Glibc
import Storage
import Synchronization

/// The journal as rows of the fleet's database (`[storage] type = "postgres"`), shared by every
/// machine: records a machine presented are cleaned up by whichever machine runs next once the
/// writer's database session is gone (it held an advisory lock on its owner mark for as long as
/// it lived; a machine that dies drops its connection and the lock with it). An entry's "path"
/// is `postgres:journal/ID`.
///
/// The rows are trusted no more than entry files: every record must have the dns-01 shape at an
/// _acme-challenge name, or nothing in the row is removed.
public struct DatabaseJournal: JournalBackend {
    static let rowPrefix = "postgres:journal/"
    let fleet: FleetDatabase

    init(database: FleetDatabase) { fleet = database }

    public func add(_ records: [ChallengeRecord], in journal: Journal) throws -> String {
        let id = try fleet.addJournalRow(recordsJSON: try Self.encodeRecords(records))
        let path = Self.rowPrefix + String(id)
        Journal.writtenRows.withLock { $0[path] = records }
        return path
    }

    public func forget(_ records: Set<ChallengeRecord>, in journal: Journal) throws {
        try fleet.editJournal { rows in
            rows.compactMap { row -> (id: Int64, recordsJSON: String?)? in
                guard let entry = try? Self.decodeRecords(row.recordsJSON), entry.contains(where: records.contains) else { return nil }
                return change(row.id, entry.filter { !records.contains($0) })
            }
        }
    }

    public func remove(_ records: Set<ChallengeRecord>, from path: String, in journal: Journal) throws {
        guard let id = Self.rowID(path) else { return }
        try fleet.editJournal { rows in
            guard let row = rows.first(where: { $0.id == id }), let entry = try? Self.decodeRecords(row.recordsJSON) else { return [] }
            return [change(id, entry.filter { !records.contains($0) })]
        }
    }

    public func recordFailure(at path: String, reason: String, now: Date, in journal: Journal) throws -> Journal.Entry? {
        guard let id = Self.rowID(path), let row = try fleet.journalRows(id: id).first else { return nil }
        let retryAfter = now.addingTimeInterval(Journal.retryDelay(afterFailures: row.failures + 1))
        try fleet.recordJournalFailure(id: id, reason: reason, retryAfter: retryAfter)
        var entry = try Self.entry(row)
        entry.failures = row.failures + 1
        entry.lastError = reason
        entry.retryAfter = retryAfter
        return entry
    }

    public func scan(now: Date, in journal: Journal) throws -> Journal.Scan {
        var scan = Journal.Scan()
        for row in try fleet.journalRows() where !row.ownerAlive && !row.mine {
            let path = Self.rowPrefix + String(row.id)
            let entry: Journal.Entry
            do {
                entry = try Self.entry(row)
                try Journal.validateRecords(entry)
            } catch {
                scan.rejected.append((path, "journal row \(row.id) in the fleet's database (written by \(row.owner)) does not hold what dns01 writes (\(Journal.reason(error))), so nothing it names is removed; delete the row."))
                continue
            }
            scan.add(path, entry, now: now)
        }
        return scan
    }

    /// None: rows belong to database sessions (hooks journal in the state directory).
    public func ownersRecords(in journal: Journal) throws -> [ChallengeRecord] { [] }

    /// The change for a row whose records are now `remaining` (none: the row goes).
    private func change(_ id: Int64, _ remaining: [ChallengeRecord]) -> (id: Int64, recordsJSON: String?) {
        let path = Self.rowPrefix + String(id)
        Journal.writtenRows.withLock { rows in
            if rows[path] != nil { rows[path] = remaining.isEmpty ? nil : remaining }
        }
        return (id, remaining.isEmpty ? nil : try? Self.encodeRecords(remaining))
    }

    static func rowID(_ path: String) -> Int64? {
        guard path.hasPrefix(rowPrefix) else { return nil }
        return Int64(path.dropFirst(rowPrefix.count))
    }

    static func entry(_ row: JournalRow) throws -> Journal.Entry {
        Journal.Entry(pid: 0, owner: nil, created: row.created, records: try decodeRecords(row.recordsJSON), failures: row.failures,
              lastError: row.lastError, retryAfter: row.retryAfter, writer: row.owner)
    }

    static func encodeRecords(_ records: [ChallengeRecord]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(records), as: UTF8.self)
    }

    static func decodeRecords(_ json: String) throws -> [ChallengeRecord] {
        do {
            return try JSONDecoder().decode([ChallengeRecord].self, from: Data(json.utf8))
        } catch {
            throw JournalError(.unreadable, "its records are not a list of challenge records")
        }
    }
}
