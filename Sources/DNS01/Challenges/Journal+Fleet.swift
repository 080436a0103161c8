import Foundation
import Storage

/// The journal as rows of the fleet's database (`[storage] type = "postgres"`), shared by every
/// machine: records a machine presented are cleaned up by whichever machine runs next once the
/// writer's database session is gone (it held an advisory lock on its owner mark for as long as
/// it lived; a machine that dies drops its connection and the lock with it). An entry's "path"
/// is `postgres:journal/ID`.
///
/// The rows are trusted no more than entry files: every record must have the dns-01 shape at an
/// _acme-challenge name, or nothing in the row is removed.
extension Journal {
    static let rowPrefix = "postgres:journal/"

    func addRow(_ records: [ChallengeRecord], in fleet: FleetDatabase) throws -> String {
        let id = try fleet.addJournalRow(recordsJSON: try Self.encodeRecords(records))
        let path = Self.rowPrefix + String(id)
        Self.writtenRows.withLock { $0[path] = records }
        return path
    }

    func forgetRows(_ records: Set<ChallengeRecord>, in fleet: FleetDatabase) throws {
        try fleet.editJournal { rows in
            rows.compactMap { row -> (id: Int64, recordsJSON: String?)? in
                guard let entry = try? Self.decodeRecords(row.recordsJSON), entry.contains(where: records.contains) else { return nil }
                return change(row.id, entry.filter { !records.contains($0) })
            }
        }
    }

    func removeRows(_ records: Set<ChallengeRecord>, from path: String, in fleet: FleetDatabase) throws {
        guard let id = Self.rowID(path) else { return }
        try fleet.editJournal { rows in
            guard let row = rows.first(where: { $0.id == id }), let entry = try? Self.decodeRecords(row.recordsJSON) else { return [] }
            return [change(id, entry.filter { !records.contains($0) })]
        }
    }

    func recordRowFailure(at path: String, reason: String, now: Date, in fleet: FleetDatabase) throws -> Entry? {
        guard let id = Self.rowID(path), let row = try fleet.journalRows(id: id).first else { return nil }
        let retryAfter = now.addingTimeInterval(Self.retryDelay(afterFailures: row.failures + 1))
        try fleet.recordJournalFailure(id: id, reason: reason, retryAfter: retryAfter)
        var entry = try Self.entry(row)
        entry.failures = row.failures + 1
        entry.lastError = reason
        entry.retryAfter = retryAfter
        return entry
    }

    func scanRows(now: Date, in fleet: FleetDatabase) throws -> Scan {
        var scan = Scan()
        for row in try fleet.journalRows() where !row.ownerAlive && !row.mine {
            let path = Self.rowPrefix + String(row.id)
            let entry: Entry
            do {
                entry = try Self.entry(row)
                try Self.validateRecords(entry)
            } catch {
                scan.rejected.append((path, "journal row \(row.id) in the fleet's database (written by \(row.owner)) does not hold what dns01 writes (\(Self.reason(error))), so nothing it names is removed; delete the row."))
                continue
            }
            if let retryAfter = entry.retryAfter, retryAfter > now {
                scan.deferred.append((path, entry))
            } else {
                scan.orphans.append((path, entry))
            }
        }
        return scan
    }

    /// The change for a row whose records are now `remaining` (none: the row goes).
    private func change(_ id: Int64, _ remaining: [ChallengeRecord]) -> (id: Int64, recordsJSON: String?) {
        let path = Self.rowPrefix + String(id)
        Self.writtenRows.withLock { rows in
            if rows[path] != nil { rows[path] = remaining.isEmpty ? nil : remaining }
        }
        return (id, remaining.isEmpty ? nil : try? Self.encodeRecords(remaining))
    }

    static func rowID(_ path: String) -> Int64? {
        guard path.hasPrefix(rowPrefix) else { return nil }
        return Int64(path.dropFirst(rowPrefix.count))
    }

    static func entry(_ row: JournalRow) throws -> Entry {
        Entry(pid: 0, owner: nil, created: row.created, records: try decodeRecords(row.recordsJSON), failures: row.failures,
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
