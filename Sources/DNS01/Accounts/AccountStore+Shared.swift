import Blocking
import Files
import FoundationEssentials
import Glibc
import Storage

/// The account where state is shared (`PostgresStateStore.withAccount`): the database's copy
/// and this machine's files.
extension AccountStore {
    func withSharedAccount<T>(push: Bool = true, _ body: () async throws -> T) async throws -> T {
        try await withSharedAccount(push: push) { _ in try await body() }
    }

    /// `body` gets the state the account is kept in.
    func withSharedAccount<T>(push: Bool = true, _ body: (any StateStore) async throws -> T) async throws -> T {
        if let state { return try await state.withAccount(self, push: push) { try await body(state) } }
        let opened = try await storage.openState(stateDir: config.stateDir)
        defer { opened.close() }
        return try await opened.withAccount(self, push: push) { try await body(opened) }
    }

    /// Writes the database's account into the local files (0600); nothing when it has none.
    func pull(from database: FleetDatabase) throws {
        guard let account = try database.account(directory: config.directory) else { return }
        try FileSystem.writeAtomically(Array(account.recordJSON.utf8), to: recordPath, mode: 0o600)
        // An imported key (`account_key_file`) is the user's file: read, never written.
        guard config.accountKeyFile == nil else { return }
        try FileSystem.writeAtomically(Array(account.keyPEM.utf8), to: keyPath, mode: 0o600)
        if let next = account.nextKeyPEM {
            try FileSystem.writeAtomically(Array(next.utf8), to: nextKeyPath, mode: 0o600)
        } else if FileSystem.exists(nextKeyPath) {
            try FileSystem.remove(nextKeyPath)
        }
    }

    /// Copies the local account (record, key, an unconfirmed next key) into the database.
    func push(to database: FleetDatabase) throws {
        guard FileSystem.exists(recordPath), FileSystem.exists(keyPath) else { return }
        let record = try FileSystem.readText(recordPath, limit: .state), key = try FileSystem.readText(keyPath, limit: .pem)
        let next = config.accountKeyFile == nil && FileSystem.exists(nextKeyPath) ? try FileSystem.readText(nextKeyPath, limit: .pem) : nil
        let account = StoredAccount(directory: config.directory, recordJSON: record, keyPEM: key, nextKeyPEM: next)
        guard try database.account(directory: config.directory) != account else { return }
        try database.putAccount(account)
    }
}
