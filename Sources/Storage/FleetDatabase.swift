import Crypto
import FoundationEssentials
import Glibc
import Synchronization

/// The state a fleet of machines shares in PostgreSQL (`[storage] type = "postgres"`): accounts
/// per CA, certificate versions and which one is live, the journal of presented records, and
/// run history; and the advisory locks that keep two machines off one certificate.
///
/// Each machine keeps its `state_dir` as a working copy (live/, archive/, history/, accounts/),
/// which is what web servers and the renewal plan read; the database is the truth that copy is
/// synced from. A version becomes live in one transaction, so no machine ever sees a half-stored
/// one. Private keys are sealed with the fleet's `SealingKey` before they leave the process.
///
/// Every method blocks on the network: callers run it on the `BlockingPool`.
public final class FleetDatabase: Sendable {
    /// The schema this dns01 writes; older ones are migrated forward on connect.
    public static let schemaVersion = 3

    public let connection: PostgresConnection
    let sealing: SealingKey
    /// This session's journal owner mark: entries it writes name it, and it holds an advisory
    /// lock on it for as long as the connection lives, so another machine can tell its entries
    /// from a dead session's.
    let ownerToken: Int32
    /// "dns01 on web1 pid 1234": who wrote a journal entry, for messages.
    public let ownerName: String
    private let ownerLocked = Mutex(false)

    /// Advisory lock namespaces (the first key of the two-key form); the second key is a hash.
    enum LockKind: Int32 {
        case certificate = 0x644E_5301
        case session = 0x644E_5302
        case account = 0x644E_5303
        case migration = 0x644E_5304
        case journal = 0x644E_5305
    }

    /// Connects (`connectionString` is libpq's: a URL or key=value pairs) and, with `migrate`,
    /// brings the schema up to date. `dns01 sync` passes `migrate: false` and checks the schema
    /// inside its one query.
    public init(connectionString: String, sealing: SealingKey, migrate: Bool = true) throws {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        ownerName = "dns01 on \(host) pid \(getpid())"
        connection = try PostgresConnection(connectionString: connectionString, applicationName: String(ownerName.prefix(63)))
        self.sealing = sealing
        ownerToken = Int32.random(in: 1...Int32.max)
        if migrate { try ensureSchema() }
    }

    /// Ends the session: its locks go.
    public func close() { connection.close() }

    // MARK: - Schema

    /// Each version's statements, applied in order in one transaction.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE dns01_accounts (
                directory text PRIMARY KEY,
                record text NOT NULL,
                key_sealed bytea NOT NULL,
                next_key_sealed bytea,
                updated timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE dns01_certificates (
                name text PRIMARY KEY,
                live_version integer,
                updated timestamptz NOT NULL DEFAULT now()
            )
            """,
            """
            CREATE TABLE dns01_versions (
                name text NOT NULL REFERENCES dns01_certificates (name) ON DELETE CASCADE,
                version integer NOT NULL CHECK (version > 0),
                chain text NOT NULL,
                key_sealed bytea,
                names text[] NOT NULL,
                not_after timestamptz NOT NULL,
                created timestamptz NOT NULL DEFAULT now(),
                created_by text NOT NULL,
                PRIMARY KEY (name, version)
            )
            """,
            """
            ALTER TABLE dns01_certificates ADD FOREIGN KEY (name, live_version)
                REFERENCES dns01_versions (name, version) DEFERRABLE INITIALLY DEFERRED
            """,
            """
            CREATE TABLE dns01_journal (
                id bigserial PRIMARY KEY,
                owner_token integer NOT NULL,
                owner text NOT NULL,
                created timestamptz NOT NULL DEFAULT now(),
                records text NOT NULL,
                failures integer NOT NULL DEFAULT 0,
                last_error text,
                retry_after timestamptz
            )
            """,
            """
            CREATE TABLE dns01_history (
                name text PRIMARY KEY,
                history text NOT NULL,
                updated timestamptz NOT NULL DEFAULT now()
            )
            """,
        ],
        // 2: what a version's sealed key is bound to (`KeyBinding`); the rows of schema 1 say
        // 1 and are re-sealed to 2 by `resealLegacyKeys` in the same transaction.
        [
            "ALTER TABLE dns01_versions ADD COLUMN key_binding smallint NOT NULL DEFAULT 1 CHECK (key_binding IN (1, 2))",
        ],
        // 3: `dns01 serve`'s registrations (`FleetDatabase+AcmeDNS`); values as JSON lists.
        [
            """
            CREATE TABLE dns01_acmedns (
                username text PRIMARY KEY,
                password_hash text NOT NULL,
                subdomain text NOT NULL UNIQUE,
                allow_from text NOT NULL,
                txt_values text NOT NULL,
                created timestamptz NOT NULL,
                updated timestamptz NOT NULL DEFAULT now()
            )
            """,
        ],
    ]

    /// Reads the schema version and applies the missing migrations, under an advisory lock so
    /// two machines starting at once do not both apply them.
    public func ensureSchema() throws {
        let current: Int
        do {
            current = try connection.query("SELECT max(version) AS version FROM dns01_schema").int(0, "version") ?? 0
        } catch let error as PostgresError where error.sqlState == "42P01" {
            current = 0
        }
        try check(schema: current)
        guard current < Self.schemaVersion else { return }
        try connection.transaction {
            try connection.query("SELECT pg_advisory_xact_lock($1, 0)", [.int(Int64(LockKind.migration.rawValue))])
            try connection.query("CREATE TABLE IF NOT EXISTS dns01_schema (version integer NOT NULL)")
            let applied = try connection.query("SELECT coalesce(max(version), 0) AS version FROM dns01_schema").int(0, "version") ?? 0
            try check(schema: applied)
            for version in (applied + 1)..<(Self.schemaVersion + 1) {
                for statement in Self.migrations[version - 1] { try connection.query(statement) }
                if version == 2 { try resealLegacyKeys() }
                try connection.query("INSERT INTO dns01_schema (version) VALUES ($1)", [.int(Int64(version))])
            }
        }
    }

    func check(schema version: Int) throws {
        guard version <= Self.schemaVersion else {
            throw PostgresError(.schemaTooNew, "the dns01 tables in PostgreSQL at \(connection.serverName) are at schema \(version), newer than this dns01 knows (\(Self.schemaVersion)): upgrade dns01 on this machine")
        }
    }

    // MARK: - Locks

    /// The second lock key for `name`: 31 bits of its SHA-256 (two names sharing one only
    /// serialize each other).
    static func lockKey(_ name: String) -> Int32 {
        let digest = Array(SHA256.hash(data: Data(name.utf8)))
        let value = UInt32(digest[0]) << 24 | UInt32(digest[1]) << 16 | UInt32(digest[2]) << 8 | UInt32(digest[3])
        return Int32(bitPattern: value & 0x7FFF_FFFF)
    }

    /// Takes the certificate's lock for this session if it is free.
    public func tryLockCertificate(_ name: String) throws -> Bool {
        try connection.query("SELECT pg_try_advisory_lock($1, $2) AS locked",
                             [.int(Int64(LockKind.certificate.rawValue)), .int(Int64(Self.lockKey(name)))]).bool(0, "locked") ?? false
    }

    /// Waits up to `seconds` for the certificate's lock (`--wait-lock`); false when it stayed taken.
    public func lockCertificate(_ name: String, waitingAtMost seconds: Int) throws -> Bool {
        try connection.query("SELECT set_config('lock_timeout', $1, false)", [.text("\(max(seconds, 1) * 1000)")])
        defer { _ = try? connection.query("SELECT set_config('lock_timeout', '0', false)") }
        do {
            try connection.query("SELECT pg_advisory_lock($1, $2)", [.int(Int64(LockKind.certificate.rawValue)), .int(Int64(Self.lockKey(name)))])
            return true
        } catch let error as PostgresError where error.sqlState == "55P03" {
            return false
        }
    }

    public func unlockCertificate(_ name: String) throws {
        try connection.query("SELECT pg_advisory_unlock($1, $2)", [.int(Int64(LockKind.certificate.rawValue)), .int(Int64(Self.lockKey(name)))])
    }

    /// Who holds the certificate's lock: "dns01 on web1 pid 1234 (from 10.0.0.5, since …)", or
    /// nil when nobody does (any more).
    public func certificateLockHolder(_ name: String) throws -> String? {
        let rows = try connection.query("""
            SELECT a.application_name AS holder, host(a.client_addr) AS address, extract(epoch FROM a.backend_start) AS since
            FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND l.classid = $1::integer::oid AND l.objid = $2::integer::oid
            LIMIT 1
            """, [.int(Int64(LockKind.certificate.rawValue)), .int(Int64(Self.lockKey(name)))])
        guard !rows.isEmpty else { return nil }
        var text = try rows.text(0, "holder").flatMap { $0.isEmpty ? nil : $0 } ?? "another session"
        var details: [String] = []
        if let address = try rows.text(0, "address") { details.append("from \(address)") }
        if let since = try rows.epoch(0, "since") { details.append("connected since \(since.formatted(.iso8601))") }
        if !details.isEmpty { text += " (\(details.joined(separator: ", ")))" }
        return text
    }

    /// Takes the account lock of `directory` (registration and key changes happen once for the
    /// fleet), waiting for another machine's turn to end.
    public func lockAccount(_ directory: String) throws {
        try connection.query("SELECT pg_advisory_lock($1, $2)", [.int(Int64(LockKind.account.rawValue)), .int(Int64(Self.lockKey(directory)))])
    }

    public func unlockAccount(_ directory: String) throws {
        try connection.query("SELECT pg_advisory_unlock($1, $2)", [.int(Int64(LockKind.account.rawValue)), .int(Int64(Self.lockKey(directory)))])
    }

    /// Takes this session's owner lock once, before its first journal entry.
    func holdOwnerLock() throws {
        try ownerLocked.withLock { locked in
            guard !locked else { return }
            try connection.query("SELECT pg_advisory_lock($1, $2)", [.int(Int64(LockKind.session.rawValue)), .int(Int64(ownerToken))])
            locked = true
        }
    }
}
