import Blocking
import FoundationEssentials
import Glibc
import Storage
import SwiftASN1
import X509

/// `[storage] type = "postgres"`: the fleet's PostgreSQL is the truth and `state_dir` this
/// machine's working copy. One database session per store: its advisory locks (certificates,
/// the account, the journal rows' owner mark) end with it, so a machine that dies lets another
/// take over.
public final class PostgresStateStore: StateStore {
    public let stateDir: String
    let database: FleetDatabase
    /// Failures already reported by a sync of this store: `dns01 run` syncs twice and reports
    /// each once.
    let reported = FleetSync.Reported()

    init(database: FleetDatabase, stateDir: String) {
        self.database = database
        self.stateDir = stateDir
    }

    public var journalBackend: any JournalBackend { DatabaseJournal(database: database) }

    public var registrations: any AcmeDNSRegistrationStore { database }

    /// Stored in the database as its next version and made live there, in one transaction.
    public func recordVersion(name: String, blocks: [String], keyPEM: String?) throws -> Int? {
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: blocks.first ?? "") } catch {
            throw OperationError("The CA's certificate for \(name) cannot be read: \(error).")
        }
        let names = (try? certificate.extensions.subjectAlternativeNames)??.compactMap { name -> String? in
            if case .dnsName(let dns) = name { return dns }
            return nil
        } ?? []
        return try database.storeVersion(name: name, chainPEM: blocks.joined(), keyPEM: keyPEM, names: names,
                                         notAfter: certificate.notValidAfter)
    }

    public func lockShared(_ names: [String], waitSeconds: Int?) async throws -> SharedLocks {
        let database = self.database
        return try await BlockingPool.shared.run {
            var outcome = SharedLocks()
            for name in names {
                let locked = try waitSeconds.map { try database.lockCertificate(name, waitingAtMost: $0) } ?? database.tryLockCertificate(name)
                if locked {
                    outcome.locked.append(name)
                    continue
                }
                let holder = (try? database.certificateLockHolder(name)).flatMap { $0 } ?? "another machine"
                let waited = waitSeconds.map { "after waiting \($0) s" } ?? "(`dns01 run --wait-lock` waits for it)"
                outcome.refusals[name] = "\(name) is being worked on by \(holder); skipped \(waited)."
            }
            return outcome
        }
    }

    public func releaseShared(_ names: [String]) async {
        let database = self.database
        _ = try? await BlockingPool.shared.run {
            for name in names { try database.unlockCertificate(name) }
        }
    }

    /// One account per CA for the whole fleet. Each use takes the account's advisory lock (two
    /// machines never register two accounts or roll one key over at once), copies the account
    /// into the local files, lets the file logic run unchanged (registration, an interrupted
    /// rollover's settling), and copies the result back. An account this machine had before
    /// the state was shared, and the database lacks, is copied up.
    public func withAccount<T>(_ account: AccountStore, push: Bool, _ body: () async throws -> T) async throws -> T {
        let database = self.database, directoryURL = account.config.directory
        try await BlockingPool.shared.run { try database.lockAccount(directoryURL) }
        do {
            try await BlockingPool.shared.run { try account.pull(from: database) }
            let value = try await body()
            if push { try await BlockingPool.shared.run { try account.push(to: database) } }
            try? await BlockingPool.shared.run { try database.unlockAccount(directoryURL) }
            return value
        } catch {
            try? await BlockingPool.shared.run { try database.unlockAccount(directoryURL) }
            throw error
        }
    }

    public func forgetAccount(directoryURL: String) async throws {
        let database = self.database
        try await BlockingPool.shared.run { try database.deleteAccount(directory: directoryURL) }
    }

    public func syncLive(_ names: [String]?, config: Configuration, events: @escaping EventSink) async throws -> FleetSync.Summary? {
        try await FleetSync(config: config, fleet: database, events: events, reported: reported).run(names: names)
    }

    public func pullHistory(_ names: [String]) async throws {
        let database = self.database, store = RunHistoryStore(stateDir: stateDir)
        try await BlockingPool.shared.run {
            for (name, json) in try database.histories(names) {
                guard let history = try? RunHistoryStore.decoder.decode(RunHistory.self, from: Data(json.utf8)) else { continue }
                try store.write(history, for: name)
            }
        }
    }

    public func pushHistory(_ names: [String]) async throws {
        let database = self.database, store = RunHistoryStore(stateDir: stateDir)
        try await BlockingPool.shared.run {
            for name in names where store.exists(name) {
                let json = String(decoding: try RunHistoryStore.encoder.encode(store.read(name)), as: UTF8.self)
                try database.putHistory(json, for: name)
            }
        }
    }

    public func lostConnection(_ error: any Error) -> String? {
        switch error {
        case let error as PostgresError where error.code == .connectionLost: error.description
        case let error as CertificateFailure: lostConnection(error.underlying)
        default: nil
        }
    }

    public func close() { database.close() }
}

extension StorageSettings {
    /// The state this `[storage]` names: `stateDir` alone, or the fleet's database with
    /// `stateDir` as this machine's copy (connecting, on the `BlockingPool`; the URL and key
    /// files are read and checked first, errors name them, never their content).
    /// `migrate: false` leaves the schema check to the first query (`dns01 sync`).
    public func openState(stateDir: String, migrate: Bool = true) async throws -> any StateStore {
        switch kind {
        case .directory: return DirectoryStateStore(stateDir: stateDir)
        case .postgres: return PostgresStateStore(database: try await openDatabase(migrate: migrate), stateDir: stateDir)
        }
    }
}

extension Configuration {
    /// `[storage]`'s state for this config (`StorageSettings.openState`).
    public func openState(migrate: Bool = true) async throws -> any StateStore {
        try await storage.openState(stateDir: acme.stateDir, migrate: migrate)
    }
}
