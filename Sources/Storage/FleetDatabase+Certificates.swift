import Crypto
import FoundationEssentials
import Glibc

/// One stored certificate version: the chain as the CA served it (leaf first), its private key
/// (nil for a certificate from the user's own CSR), its names and notAfter.
public struct StoredVersion: Sendable, Equatable {
    public var name: String
    public var version: Int
    public var chainPEM: String
    public var keyPEM: String?
    public var names: [String]
    public var notAfter: Date

    public init(name: String, version: Int, chainPEM: String, keyPEM: String?, names: [String], notAfter: Date) {
        self.name = name
        self.version = version
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
        self.names = names
        self.notAfter = notAfter
    }
}

/// The live versions `dns01 sync` asked for: those that read, and those that do not.
public struct LiveChanges: Sendable {
    public var versions: [StoredVersion]
    /// Live versions that cannot be read (a sealed key that does not open): each is reported
    /// and skipped, the others are installed.
    public var unreadable: [UnreadableVersion]
}

/// A stored version that cannot be read, naming its certificate and number.
public struct UnreadableVersion: Error, Sendable, CustomStringConvertible {
    public var name: String
    public var version: Int?
    public var error: PostgresError
    public var description: String { error.description }
}

extension FleetDatabase {
    /// What a version's sealed private key is bound to: the AES-GCM authenticated data, and
    /// `dns01_versions.key_binding`.
    enum KeyBinding: Int {
        /// Schema 1 (dns01 before the chain was bound): the certificate's name and version
        /// number. A key moved to another row does not open; a chain or names changed in its
        /// row went unnoticed. Only rows the migration to schema 2 could not open keep it.
        case row = 1
        /// The name, the number, and SHA-256 digests of the chain (as stored) and of the names
        /// (in their stored order): a chain swapped in from another row, or names changed,
        /// make the key fail to open.
        case rowChainAndNames = 2
    }

    /// The authenticated data a version's key is sealed with under `binding`.
    static func keyContext(name: String, version: Int, chainPEM: String, names: [String], binding: KeyBinding) -> String {
        let row = "dns01 certificate key \(name) version \(version)"
        switch binding {
        case .row:
            return row
        case .rowChainAndNames:
            let chain = Hex.encode(Array(SHA256.hash(data: Data(chainPEM.utf8))))
            let listed = Hex.encode(Array(SHA256.hash(data: Data(names.joined(separator: "\n").utf8))))
            return "\(row) chain sha256:\(chain) names sha256:\(listed)"
        }
    }

    /// Schema 1 → 2, inside the migration's transaction: each key sealed under `.row` that
    /// opens with this machine's key is sealed again under `.rowChainAndNames`, binding it to
    /// the chain and names its row holds. One that does not open (another fleet's key file, a
    /// damaged value) keeps `.row` and stays readable as before by the machines it opens for.
    /// Read in pages, so a large table is never in memory at once.
    func resealLegacyKeys() throws {
        var after: (name: String, version: Int64) = ("", 0)
        while true {
            let rows = try connection.query("""
                SELECT name, version, chain, key_sealed, array_to_string(names, ' ') AS names FROM dns01_versions
                WHERE key_binding = 1 AND key_sealed IS NOT NULL AND (name, version) > ($1, $2)
                ORDER BY name, version LIMIT 200
                """, [.text(after.name), .int(after.version)])
            guard !rows.isEmpty else { return }
            for row in 0..<rows.count {
                let name = try rows.requiredText(row, "name")
                guard let number = try rows.int(row, "version") else { continue }
                after = (name, Int64(number))
                let chain = try rows.requiredText(row, "chain")
                let names = try rows.text(row, "names").map { $0.split(separator: " ").map(String.init) } ?? []
                guard let sealed = try rows.bytes(row, "key_sealed"),
                      let key = sealing.open(sealed, context: Self.keyContext(name: name, version: number, chainPEM: chain, names: names, binding: .row))
                else { continue }
                let resealed = try sealing.seal(key, context: Self.keyContext(name: name, version: number, chainPEM: chain, names: names,
                                                                              binding: .rowChainAndNames))
                try connection.query("UPDATE dns01_versions SET key_sealed = $3, key_binding = 2 WHERE name = $1 AND version = $2",
                                     [.text(name), .int(Int64(number)), .bytes(resealed)])
            }
        }
    }

    /// Stores a new version of `name` and makes it live, in one transaction; returns its number
    /// (one past the highest stored). A connection lost before COMMIT leaves nothing behind.
    public func storeVersion(name: String, chainPEM: String, keyPEM: String?, names: [String], notAfter: Date) throws -> Int {
        try connection.transaction {
            try connection.query("INSERT INTO dns01_certificates (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [.text(name)])
            try connection.query("SELECT live_version FROM dns01_certificates WHERE name = $1 FOR UPDATE", [.text(name)])
            let next = try connection.query("SELECT coalesce(max(version), 0) + 1 AS next FROM dns01_versions WHERE name = $1",
                                            [.text(name)]).int(0, "next") ?? 1
            try insert(StoredVersion(name: name, version: next, chainPEM: chainPEM, keyPEM: keyPEM, names: names, notAfter: notAfter))
            try connection.query("UPDATE dns01_certificates SET live_version = $2, updated = now() WHERE name = $1", [.text(name), .int(Int64(next))])
            return next
        }
    }

    /// `dns01 storage import`: stores `version` under its own number unless that number is
    /// taken, and makes it live when `live`. Returns false when the number was taken (the
    /// version is not stored again).
    public func importVersion(_ version: StoredVersion, live: Bool) throws -> Bool {
        try connection.transaction {
            try connection.query("INSERT INTO dns01_certificates (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [.text(version.name)])
            let taken = try !connection.query("SELECT 1 FROM dns01_versions WHERE name = $1 AND version = $2",
                                              [.text(version.name), .int(Int64(version.version))]).isEmpty
            if !taken { try insert(version) }
            if live {
                try connection.query("UPDATE dns01_certificates SET live_version = $2, updated = now() WHERE name = $1",
                                     [.text(version.name), .int(Int64(version.version))])
            }
            return !taken
        }
    }

    private func insert(_ version: StoredVersion) throws {
        let context = Self.keyContext(name: version.name, version: version.version, chainPEM: version.chainPEM, names: version.names,
                                      binding: .rowChainAndNames)
        let sealed: PostgresConnection.Value = try version.keyPEM.map { .bytes(try sealing.seal($0, context: context)) } ?? .null
        try connection.query("""
            INSERT INTO dns01_versions (name, version, chain, key_sealed, key_binding, names, not_after, created_by)
            VALUES ($1, $2, $3, $4, $5, string_to_array($6, ' '), to_timestamp($7), $8)
            """, [.text(version.name), .int(Int64(version.version)), .text(version.chainPEM), sealed,
                  .int(Int64(KeyBinding.rowChainAndNames.rawValue)),
                  .text(version.names.joined(separator: " ")), .text(String(version.notAfter.timeIntervalSince1970)), .text(ownerName)])
    }

    /// The live versions of `known`'s certificates that differ from the version each machine
    /// has (nil: none), with the key opened: `dns01 sync`'s one query. The schema version rides
    /// along, so no other query is needed when nothing changed; a missing or older schema is
    /// brought up to date and the query asked again. A version whose key does not open is
    /// returned among `unreadable`, not thrown: one bad row does not hide the others.
    /// `migrated`: the schema was just brought up to date, so a mismatch now is not retried.
    public func changedLiveVersions(known: [(name: String, version: Int?)], migrated: Bool = false) throws -> LiveChanges {
        let names = "{" + known.map { "\"" + Self.arrayEscaped($0.name) + "\"" }.joined(separator: ",") + "}"
        let versions = "{" + known.map { $0.version.map(String.init) ?? "NULL" }.joined(separator: ",") + "}"
        let rows: PostgresRows
        do {
            rows = try connection.query("""
                SELECT s.version AS schema, x.* FROM (SELECT max(version) AS version FROM dns01_schema) s
                LEFT JOIN LATERAL (
                    SELECT c.name, v.version, v.chain, v.key_sealed, v.key_binding, extract(epoch FROM v.not_after) AS not_after,
                           array_to_string(v.names, ' ') AS names
                    FROM unnest($1::text[], $2::integer[]) AS k (name, known)
                    JOIN dns01_certificates c ON c.name = k.name
                    JOIN dns01_versions v ON v.name = c.name AND v.version = c.live_version
                    WHERE k.known IS DISTINCT FROM c.live_version
                ) x ON true
                """, [.text(names), .text(versions)])
        } catch let error as PostgresError where (error.sqlState == "42P01" || error.sqlState == "42703") && !migrated {
            // No table (42P01), or a column of a later schema missing (42703): schema 0 or 1.
            try ensureSchema()
            return try changedLiveVersions(known: known, migrated: true)
        }
        let schema = try rows.int(0, "schema") ?? 0
        if schema != Self.schemaVersion {
            try check(schema: schema)
            guard !migrated else {
                throw PostgresError(.unexpectedData, "the dns01 tables in PostgreSQL at \(connection.serverName) stay at schema \(schema) after migrating to \(Self.schemaVersion)")
            }
            try ensureSchema()
            return try changedLiveVersions(known: known, migrated: true)
        }
        var changes = LiveChanges(versions: [], unreadable: [])
        for row in 0..<rows.count {
            guard let name = try rows.text(row, "name") else { continue }
            do {
                changes.versions.append(try version(in: rows, row: row))
            } catch let error as PostgresError where error.code == .sealing || error.code == .unexpectedData {
                changes.unreadable.append(UnreadableVersion(name: name, version: try? rows.int(row, "version"), error: error))
            }
        }
        return changes
    }

    /// Every version of `name`, oldest first (export).
    public func versions(of name: String) throws -> [StoredVersion] {
        let rows = try connection.query("""
            SELECT name, version, chain, key_sealed, key_binding, extract(epoch FROM not_after) AS not_after,
                   array_to_string(names, ' ') AS names
            FROM dns01_versions WHERE name = $1 ORDER BY version
            """, [.text(name)])
        return try (0..<rows.count).map { try version(in: rows, row: $0) }
    }

    /// Every certificate's name and live version number.
    public func certificates() throws -> [(name: String, live: Int?)] {
        let rows = try connection.query("SELECT name, live_version FROM dns01_certificates ORDER BY name")
        return try (0..<rows.count).map { (try rows.requiredText($0, "name"), try rows.int($0, "live_version")) }
    }

    private func version(in rows: PostgresRows, row: Int) throws -> StoredVersion {
        let name = try rows.requiredText(row, "name")
        guard let number = try rows.int(row, "version"), let notAfter = try rows.epoch(row, "not_after") else {
            throw PostgresError(.unexpectedData, "PostgreSQL at \(connection.serverName) holds a version of \(name) without a number or notAfter")
        }
        let chain = try rows.requiredText(row, "chain")
        let names = try rows.text(row, "names").map { $0.split(separator: " ").map(String.init) } ?? []
        var key: String?
        if let sealed = try rows.bytes(row, "key_sealed") {
            guard let binding = try rows.int(row, "key_binding").flatMap(KeyBinding.init(rawValue:)) else {
                throw PostgresError(.unexpectedData, "the private key of \(name) version \(number) in PostgreSQL at \(connection.serverName) is sealed in a way this dns01 does not know (key_binding \(try rows.text(row, "key_binding") ?? "NULL"))")
            }
            let context = Self.keyContext(name: name, version: number, chainPEM: chain, names: names, binding: binding)
            guard let opened = sealing.open(sealed, context: context) else {
                throw PostgresError(.sealing, "the private key of \(name) version \(number) in PostgreSQL at \(connection.serverName) does not open with [storage] key_file (another fleet's key, or its key, chain or names changed in the database)")
            }
            key = opened
        }
        return StoredVersion(name: name, version: number, chainPEM: chain, keyPEM: key, names: names, notAfter: notAfter)
    }

    /// An element of a PostgreSQL array literal, inside double quotes.
    static func arrayEscaped(_ text: String) -> String {
        text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
    }
}
