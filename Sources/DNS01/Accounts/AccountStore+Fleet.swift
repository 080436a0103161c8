import Blocking
import Files
import Foundation
import Storage

/// The account with fleet storage: one account per CA for the whole fleet, in the shared
/// database. Each use takes the account's advisory lock (two machines never register two
/// accounts or roll one key over at once), copies the account into the local files, lets the
/// file logic above run unchanged (registration, an interrupted rollover's settling), and
/// copies the result back. An account this machine had before the state was shared, and the
/// database lacks, is copied up.
extension AccountStore {
    func withFleetAccount<T>(push: Bool = true, _ body: () async throws -> T) async throws -> T {
        try await withFleetAccount(push: push) { _ in try await body() }
    }

    /// `body` gets the database (nil for directory storage).
    func withFleetAccount<T>(push: Bool = true, _ body: (FleetDatabase?) async throws -> T) async throws -> T {
        var opened: FleetDatabase?
        if fleet == nil { opened = try await storage.open() }
        guard let database = fleet ?? opened else { return try await body(nil) }
        defer { opened?.close() }
        let directoryURL = config.directory
        try await BlockingPool.shared.run { try database.lockAccount(directoryURL) }
        do {
            try await BlockingPool.shared.run { try self.pull(from: database) }
            let value = try await body(database)
            if push { try await BlockingPool.shared.run { try self.push(to: database) } }
            try? await BlockingPool.shared.run { try database.unlockAccount(directoryURL) }
            return value
        } catch {
            try? await BlockingPool.shared.run { try database.unlockAccount(directoryURL) }
            throw error
        }
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
