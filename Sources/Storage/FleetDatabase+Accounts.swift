import FoundationEssentials
import Glibc

/// An ACME account as the fleet shares it: the record (account.json as the core writes it), the
/// key, and the new key of a rollover not yet confirmed.
public struct StoredAccount: Sendable, Equatable {
    public var directory: String
    public var recordJSON: String
    public var keyPEM: String
    public var nextKeyPEM: String?

    public init(directory: String, recordJSON: String, keyPEM: String, nextKeyPEM: String?) {
        self.directory = directory
        self.recordJSON = recordJSON
        self.keyPEM = keyPEM
        self.nextKeyPEM = nextKeyPEM
    }
}

extension FleetDatabase {
    static func accountKeyContext(directory: String, next: Bool) -> String {
        "dns01 account \(next ? "next key" : "key") \(directory)"
    }

    /// The account at the CA whose directory URL is `directory`, or nil.
    public func account(directory: String) throws -> StoredAccount? {
        let rows = try connection.query("SELECT record, key_sealed, next_key_sealed FROM dns01_accounts WHERE directory = $1", [.text(directory)])
        guard !rows.isEmpty else { return nil }
        return try account(in: rows, row: 0, directory: directory)
    }

    /// Every stored account (export).
    public func accounts() throws -> [StoredAccount] {
        let rows = try connection.query("SELECT directory, record, key_sealed, next_key_sealed FROM dns01_accounts ORDER BY directory")
        return try (0..<rows.count).map { try account(in: rows, row: $0, directory: try rows.requiredText($0, "directory")) }
    }

    /// Stores (or replaces) the account of `account.directory`.
    public func putAccount(_ account: StoredAccount) throws {
        let key = try sealing.seal(account.keyPEM, context: Self.accountKeyContext(directory: account.directory, next: false))
        let next: PostgresConnection.Value = try account.nextKeyPEM.map {
            .bytes(try sealing.seal($0, context: Self.accountKeyContext(directory: account.directory, next: true)))
        } ?? .null
        try connection.query("""
            INSERT INTO dns01_accounts (directory, record, key_sealed, next_key_sealed) VALUES ($1, $2, $3, $4)
            ON CONFLICT (directory) DO UPDATE SET record = $2, key_sealed = $3, next_key_sealed = $4, updated = now()
            """, [.text(account.directory), .text(account.recordJSON), .bytes(key), next])
    }

    public func deleteAccount(directory: String) throws {
        try connection.query("DELETE FROM dns01_accounts WHERE directory = $1", [.text(directory)])
    }

    private func account(in rows: PostgresRows, row: Int, directory: String) throws -> StoredAccount {
        func open(_ column: String, next: Bool) throws -> String? {
            guard let sealed = try rows.bytes(row, column) else { return nil }
            guard let key = sealing.open(sealed, context: Self.accountKeyContext(directory: directory, next: next)) else {
                throw PostgresError(.sealing, "the account key for \(directory) in PostgreSQL at \(connection.serverName) does not open with [storage] key_file (another fleet's key, or changed in the database)")
            }
            return key
        }
        guard let key = try open("key_sealed", next: false) else {
            throw PostgresError(.unexpectedData, "PostgreSQL at \(connection.serverName) holds the account for \(directory) without a key")
        }
        return StoredAccount(directory: directory, recordJSON: try rows.requiredText(row, "record"), keyPEM: key,
                             nextKeyPEM: try open("next_key_sealed", next: true))
    }

    // MARK: - Run history

    /// The run history (JSON, as the core encodes it) of each of `names` that has one.
    public func histories(_ names: [String]) throws -> [String: String] {
        guard !names.isEmpty else { return [:] }
        let list = "{" + names.map { "\"" + Self.arrayEscaped($0) + "\"" }.joined(separator: ",") + "}"
        let rows = try connection.query("SELECT name, history FROM dns01_history WHERE name = ANY ($1::text[])", [.text(list)])
        var result: [String: String] = [:]
        for row in 0..<rows.count { result[try rows.requiredText(row, "name")] = try rows.requiredText(row, "history") }
        return result
    }

    public func putHistory(_ json: String, for name: String) throws {
        try connection.query("""
            INSERT INTO dns01_history (name, history) VALUES ($1, $2)
            ON CONFLICT (name) DO UPDATE SET history = $2, updated = now()
            """, [.text(name), .text(json)])
    }
}
