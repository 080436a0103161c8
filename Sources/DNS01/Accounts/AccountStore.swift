import ACME
import Blocking
import Files
import FoundationEssentials
import Glibc
import HTTP
import Logging
import Providers
import Settings
import Storage

/// The ACME account under `state_dir/accounts/<ca host>/`: `account.key` (0600) and
/// `account.json`. Created on first use, reused after. `[acme] account_key_file` brings an
/// existing key instead (looked up at the CA with onlyReturnExisting first).
///
/// A key rollover keeps both keys until the new one is confirmed: `account.key.next` is written
/// before the CA hears of it and renamed over `account.key` after. Finding `account.key.next` on
/// start means a rollover was interrupted; the key the CA accepts is kept (`settleRollover`).
public struct AccountStore: Sendable {
    struct Record: Codable {
        var url: String
        var directory: String
        var contact: [String]
        var created: String
        /// RFC 7638 thumbprint of the key the account was registered or found with.
        var thumbprint: String?
    }

    public let config: Configuration.ACME
    /// Where the account is kept: with fleet storage in the shared database, these files being
    /// its working copy (`StateStore.withAccount`). `state` is the caller's open state, or one
    /// is opened from `storage` for the call.
    let storage: StorageSettings
    let state: (any StateStore)?

    public init(config: Configuration.ACME, storage: StorageSettings = StorageSettings(), state: (any StateStore)? = nil) {
        self.config = config
        self.storage = storage
        self.state = state
    }

    public var directory: String {
        let url = URL(string: config.directory)
        var host = url?.host ?? "ca"
        if let port = url?.port { host += "_\(port)" }
        return "\(config.stateDir)/accounts/\(host)"
    }

    var keyPath: String { config.accountKeyFile ?? "\(directory)/account.key" }
    /// The new key of a rollover not yet confirmed (never with `account_key_file`).
    var nextKeyPath: String { "\(directory)/account.key.next" }
    var recordPath: String { "\(directory)/account.json" }

    /// An ACME client signed in with the stored account, registering one first if there is none.
    public func client(transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient {
        try await withSharedAccount { try await localClient(transport: transport, logger: logger) }
    }

    private func localClient(transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient {
        let key: AccountKey
        let imported = config.accountKeyFile != nil
        if imported || FileSystem.exists(keyPath) {
            key = try readKey(keyPath)
            // Someone else's key file (certbot's, acme-tiny's): held to the secret-file rule.
            if let file = config.accountKeyFile { try SecretFile.checkMode(file, context: "[acme] account_key_file", what: "account key") }
            if let record = readRecord() {
                if !imported && FileSystem.exists(nextKeyPath) {
                    return try await settleRollover(record: record, current: key, transport: transport, logger: logger)
                }
                if let client = client(of: record, key: key, transport: transport, logger: logger) { return client }
            }
        } else {
            key = try generateKey(config.accountKeyType)
            // The key is stored before the CA hears of it: a crash after registration must not
            // leave an account nobody holds the key of.
            let path = keyPath, pem = key.pemRepresentation
            try await BlockingPool.shared.run { try FileSystem.writeAtomically(pem, to: path, mode: 0o600) }
            // ...and removed when the CA never took the account: a first try against a CA that
            // cannot be reached (or refuses) leaves no key behind.
            var asked = false
            do {
                return try await register(key: key, imported: false, transport: transport, logger: logger, asked: &asked)
            } catch {
                if !asked || (error as? ACMEError)?.problem != nil { try? FileSystem.remove(path) }
                throw error
            }
        }
        var asked = false
        return try await register(key: key, imported: imported, transport: transport, logger: logger, asked: &asked)
    }

    /// Finds (an imported key's) or registers the account of `key`; `asked` turns true once the
    /// newAccount request that creates it is under way (from then on the CA may hold the account).
    private func register(key: AccountKey, imported: Bool, transport: any HTTPTransport, logger: Logger, asked: inout Bool) async throws -> ACMEClient {
        let client = ACMEClient(directoryURL: config.directory, transport: transport, accountKey: key, logger: logger)
        let directory = try await client.directory()
        let contact = config.email.map { ["mailto:\($0)"] } ?? []
        if imported {
            // A key from certbot or acme-tiny usually has an account already.
            do {
                let (url, _) = try await client.newAccount(contact: [], termsOfServiceAgreed: false, onlyReturnExisting: true)
                try await writeRecord(url: url, contact: contact, key: key)
                return client
            } catch let error as ACMEError where error.problem?.type == .accountDoesNotExist {
                logger.info("No account exists for \(keyPath) at the CA yet; creating one")
            }
        }
        if let terms = directory.meta?.termsOfService, !config.agreeTOS {
            throw ConfigError("The CA asks you to agree to its terms of service (\(terms)): set agree_tos = true in [acme].")
        }
        let binding = try externalAccountBinding()
        asked = true
        let (url, _) = try await client.newAccount(contact: contact, termsOfServiceAgreed: config.agreeTOS,
                                                   externalAccountBinding: binding)
        try await writeRecord(url: url, contact: contact, key: key)
        return client
    }

    /// A client for the account already registered, or nil when there is none yet.
    public func existingClient(transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient? {
        try await withSharedAccount { try await localExistingClient(transport: transport, logger: logger) }
    }

    private func localExistingClient(transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient? {
        guard FileSystem.exists(keyPath), let record = readRecord() else { return nil }
        let key = try readKey(keyPath)
        if config.accountKeyFile == nil && FileSystem.exists(nextKeyPath) {
            return try await settleRollover(record: record, current: key, transport: transport, logger: logger)
        }
        return client(of: record, key: key, transport: transport, logger: logger)
    }

    /// After an interrupted rollover (`account.key.next` exists): asks the CA for the account
    /// (RFC 8555 §7.3.3, POST-as-GET) with the current key and, if the CA refuses it, with the
    /// next one; keeps the key it accepts. When the next key wins it replaces `account.key`;
    /// when the current one does, the next key goes. When the CA cannot be reached both stay,
    /// for the next start to settle.
    func settleRollover(record: Record, current: AccountKey, transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient {
        let next = try readKey(nextKeyPath)
        let currentClient = ACMEClient(directoryURL: config.directory, transport: transport, accountKey: current, accountURL: record.url, logger: logger)
        let refusedCurrent: ACMEError
        do {
            _ = try await currentClient.account()
            logger.info("The CA still holds \(keyPath) for \(record.url); the interrupted rollover to \(nextKeyPath) never reached it")
            try FileSystem.remove(nextKeyPath)
            return currentClient
        } catch let error as ACMEError where Self.isRefusal(error) {
            refusedCurrent = error
        } catch {
            throw OperationError("Cannot settle the interrupted account key rollover in \(directory) (\(describe(error))); both keys are kept until the CA can be asked.")
        }
        let nextClient = ACMEClient(directoryURL: config.directory, transport: transport, accountKey: next, accountURL: record.url, logger: logger)
        do {
            _ = try await nextClient.account()
        } catch let error as ACMEError where Self.isRefusal(error) {
            throw OperationError("The CA refuses both account keys in \(directory) for \(record.url): account.key (\(refusedCurrent.problem.map { "\($0)" } ?? "refused")) and account.key.next (\(error.problem.map { "\($0)" } ?? "refused")).")
        } catch {
            throw OperationError("Cannot settle the interrupted account key rollover in \(directory) (\(describe(error))); both keys are kept until the CA can be asked.")
        }
        logger.info("The CA holds the new key of an interrupted rollover for \(record.url); \(nextKeyPath) becomes \(keyPath)")
        let from = nextKeyPath, to = keyPath
        try await BlockingPool.shared.run { try FileSystem.move(from, to: to) }
        try await writeRecord(url: record.url, contact: record.contact, key: next)
        return nextClient
    }

    /// A client for the recorded account, when the record was made with `key`.
    private func client(of record: Record, key: AccountKey, transport: any HTTPTransport, logger: Logger) -> ACMEClient? {
        guard record.thumbprint == nil || record.thumbprint == key.thumbprint() else { return nil }
        return ACMEClient(directoryURL: config.directory, transport: transport, accountKey: key, accountURL: record.url, logger: logger)
    }

    private func generateKey(_ type: AccountKeyType) throws -> AccountKey {
        do { return try AccountKey.generate(type) } catch {
            throw OperationError("Cannot generate a \(type.rawValue) account key: \(error).")
        }
    }

    /// The CA answered and said no (not "busy" or "broken"): the key it was signed with is not
    /// the account's key, or the change it asked for is refused.
    static func isRefusal(_ error: ACMEError) -> Bool {
        guard let type = error.problem?.type else { return false }
        return ![.rateLimited, .serverInternal, .badNonce].contains(type)
    }

    /// `dns01 account rollover`: a new key of `type` at the CA (RFC 8555 §7.3.5), then on disk.
    /// The new key is written to `account.key.next` before the CA hears of it and renamed over
    /// `account.key` once the CA accepted it; a crash in between leaves both keys, and the next
    /// start keeps the one the CA accepts (`settleRollover`).
    public func rollover(client: ACMEClient, to type: AccountKeyType) async throws -> AccountKey {
        try await withSharedAccount { try await localRollover(client: client, to: type) }
    }

    private func localRollover(client: ACMEClient, to type: AccountKeyType) async throws -> AccountKey {
        guard config.accountKeyFile == nil else {
            throw ConfigError("[acme] account_key_file is set; roll that key over with the tool that made it, or remove account_key_file to let dns01 manage the key.")
        }
        let newKey = try generateKey(type)
        let pem = newKey.pemRepresentation, next = nextKeyPath, keyPath = keyPath
        try await BlockingPool.shared.run { try FileSystem.writeAtomically(pem, to: next, mode: 0o600) }
        do {
            try await client.changeKey(to: newKey)
        } catch let error as ACMEError where Self.isRefusal(error) || error.code == .unsupported {
            // The CA refused (or offers no key change): it still holds the current key.
            try? FileSystem.remove(next)
            throw error
        } catch {
            throw OperationError("The key change did not complete (\(describe(error))); \(next) is kept and the next dns01 command keeps the key the CA accepts.")
        }
        try await BlockingPool.shared.run { try FileSystem.move(next, to: keyPath) }
        if let record = readRecord() { try await writeRecord(url: record.url, contact: record.contact, key: newKey) }
        return newKey
    }

    /// After `dns01 account deactivate`: the record goes (from the fleet's database too), so the
    /// next run registers afresh.
    public func forget() async throws {
        try await withSharedAccount(push: false) { state in
            try await state.forgetAccount(directoryURL: config.directory)
            try forgetLocally()
        }
    }

    private func forgetLocally() throws {
        try FileSystem.remove(recordPath)
        if config.accountKeyFile == nil {
            try FileSystem.remove(keyPath)
            try FileSystem.remove(nextKeyPath)
        }
    }

    func readKey(_ path: String) throws -> AccountKey {
        do {
            return try AccountKey(pemRepresentation: FileSystem.readText(path, limit: .pem))
        } catch let error as FileSystemError {
            throw error
        } catch let error as ACMEError {
            throw ConfigError("The account key \(path) is not usable: \(error.message)")
        }
    }

    func readRecord() -> Record? {
        guard FileSystem.exists(recordPath),
              let record = try? JSONDecoder().decode(Record.self, from: Data(FileSystem.readBytes(recordPath, limit: .state))),
              record.directory == config.directory else { return nil }
        return record
    }

    /// Writes `account.json` on the `BlockingPool` (the write is fsynced).
    private func writeRecord(url: String, contact: [String], key: AccountKey) async throws {
        let record = Record(url: url, directory: config.directory, contact: contact,
                            created: Date().formatted(.iso8601), thumbprint: key.thumbprint())
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let bytes = Array(try encoder.encode(record)), path = recordPath
        try await BlockingPool.shared.run { try FileSystem.writeAtomically(bytes, to: path, mode: 0o600) }
    }

    private func externalAccountBinding() throws -> ExternalAccountBinding? {
        guard let keyID = config.eabKeyID, let file = config.eabHMACKeyFile else { return nil }
        do {
            let key = try FileSystem.readText(file, limit: .secret)
            try SecretFile.checkMode(file, context: "[acme] eab_hmac_key_file", what: "EAB MAC key")
            return try ExternalAccountBinding(keyID: keyID, encodedMACKey: key)
        } catch let error as ACMEError {
            throw ConfigError("[acme] eab_hmac_key_file \(file): \(error.message)")
        }
    }
}
