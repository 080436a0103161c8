import FoundationEssentials
import Glibc

/// One journal row: records (JSON, as the core encodes them) one session presented and has not
/// cleaned up yet.
public struct JournalRow: Sendable {
    public var id: Int64
    /// "dns01 on web1 pid 1234".
    public var owner: String
    public var created: Date
    public var recordsJSON: String
    public var failures: Int
    public var lastError: String?
    public var retryAfter: Date?
    /// The writing session still holds its owner lock: its records are in use.
    public var ownerAlive: Bool
    /// Written by this session.
    public var mine: Bool
}

extension FleetDatabase {
    /// Adds a row for records about to be presented; returns its id. The session's owner lock
    /// is taken first, so the row is never without a live owner while this process runs.
    public func addJournalRow(recordsJSON: String) throws -> Int64 {
        try holdOwnerLock()
        let rows = try connection.query("INSERT INTO dns01_journal (owner_token, owner, records) VALUES ($1, $2, $3) RETURNING id",
                                        [.int(Int64(ownerToken)), .text(ownerName), .text(recordsJSON)])
        guard let id = try rows.int(0, "id") else {
            throw PostgresError(.unexpectedData, "PostgreSQL at \(connection.serverName) gave no id for a journal row")
        }
        return Int64(id)
    }

    /// Runs `body` on every journal row in a transaction that holds the journal's lock, so no
    /// two sessions rewrite one row from two stale copies; `body` returns the rows to change
    /// (`recordsJSON` nil: delete the row).
    public func editJournal(_ body: ([JournalRow]) throws -> [(id: Int64, recordsJSON: String?)]) throws {
        try connection.transaction {
            try connection.query("SELECT pg_advisory_xact_lock($1, 0)", [.int(Int64(LockKind.journal.rawValue))])
            let changes = try body(journalRows())
            for change in changes {
                if let json = change.recordsJSON {
                    try connection.query("UPDATE dns01_journal SET records = $2 WHERE id = $1", [.int(change.id), .text(json)])
                } else {
                    try connection.query("DELETE FROM dns01_journal WHERE id = $1", [.int(change.id)])
                }
            }
        }
    }

    /// Every journal row (or the one with `id`), oldest first, with whether its writer's session
    /// is still alive.
    public func journalRows(id: Int64? = nil) throws -> [JournalRow] {
        let rows = try connection.query("""
            SELECT j.id, j.owner, extract(epoch FROM j.created) AS created, j.records, j.failures, j.last_error,
                   extract(epoch FROM j.retry_after) AS retry_after, j.owner_token = $2 AS mine,
                   EXISTS (SELECT 1 FROM pg_locks l
                           WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                             AND l.classid = $1::integer::oid AND l.objid = j.owner_token::oid) AS alive
            FROM dns01_journal j WHERE $3::bigint IS NULL OR j.id = $3 ORDER BY j.id
            """, [.int(Int64(LockKind.session.rawValue)), .int(Int64(ownerToken)), id.map { .int($0) } ?? .null])
        return try (0..<rows.count).map { row in
            guard let id = try rows.int(row, "id"), let created = try rows.epoch(row, "created") else {
                throw PostgresError(.unexpectedData, "PostgreSQL at \(connection.serverName) holds a journal row without an id or time")
            }
            return JournalRow(id: Int64(id), owner: try rows.requiredText(row, "owner"), created: created,
                              recordsJSON: try rows.requiredText(row, "records"), failures: try rows.int(row, "failures") ?? 0,
                              lastError: try rows.text(row, "last_error"), retryAfter: try rows.epoch(row, "retry_after"),
                              ownerAlive: try rows.bool(row, "alive") ?? false, mine: try rows.bool(row, "mine") ?? false)
        }
    }

    /// Notes a failed cleanup of row `id`: one more failure, its reason, and when to retry.
    public func recordJournalFailure(id: Int64, reason: String, retryAfter: Date) throws {
        try connection.query("UPDATE dns01_journal SET failures = failures + 1, last_error = $2, retry_after = to_timestamp($3) WHERE id = $1",
                             [.int(id), .text(reason), .text(String(retryAfter.timeIntervalSince1970))])
    }
}
