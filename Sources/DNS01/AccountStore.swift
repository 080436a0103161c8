import ACME
import Blocking
import Foundation
import Logging
import Providers

/// The ACME account under `state_dir/accounts/<ca host>/`: `account.key` (0600) and
/// `account.json`. Created on first use, reused after. `[acme] account_key_file` brings an
/// existing key instead (looked up at the CA with onlyReturnExisting first).
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

    public init(config: Configuration.ACME) { self.config = config }

    public var directory: String {
        let url = URL(string: config.directory)
        var host = url?.host ?? "ca"
        if let port = url?.port { host += "_\(port)" }
        return "\(config.stateDir)/accounts/\(host)"
    }

    var keyPath: String { config.accountKeyFile ?? "\(directory)/account.key" }
    var recordPath: String { "\(directory)/account.json" }

    /// An ACME client signed in with the stored account, registering one first if there is none.
    public func client(transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient {
        let key: AccountKey
        let imported = config.accountKeyFile != nil
        if imported || FileSystem.exists(keyPath) {
            key = try readKey(keyPath)
            if let record = readRecord(), let client = client(of: record, key: key, transport: transport, logger: logger) { return client }
        } else {
            key = try generateKey(config.accountKeyType)
            // The key is stored before the CA hears of it: a crash after registration must not
            // leave an account nobody holds the key of.
            let path = keyPath, pem = key.pemRepresentation
            try await BlockingPool.shared.run { try FileSystem.writeAtomically(pem, to: path, mode: 0o600) }
        }
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
        let (url, _) = try await client.newAccount(contact: contact, termsOfServiceAgreed: config.agreeTOS,
                                                   externalAccountBinding: try externalAccountBinding())
        try await writeRecord(url: url, contact: contact, key: key)
        return client
    }

    /// A client for the account already registered, or nil when there is none yet.
    public func existingClient(transport: any HTTPTransport, logger: Logger) throws -> ACMEClient? {
        guard FileSystem.exists(keyPath), let record = readRecord() else { return nil }
        return client(of: record, key: try readKey(keyPath), transport: transport, logger: logger)
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

    /// `dns01 account rollover`: a new key of `type` at the CA (RFC 8555 §7.3.5), then on disk.
    /// The new key is written to `account.key.new` before the CA hears of it and renamed over
    /// `account.key` after, so no crash leaves the account without a key on disk.
    public func rollover(client: ACMEClient, to type: AccountKeyType) async throws -> AccountKey {
        guard config.accountKeyFile == nil else {
            throw ConfigError("[acme] account_key_file is set; roll that key over with the tool that made it, or remove account_key_file to let dns01 manage the key.")
        }
        let newKey = try generateKey(type)
        let pending = keyPath + ".new"
        let pem = newKey.pemRepresentation, keyPath = keyPath
        try await BlockingPool.shared.run { try FileSystem.writeAtomically(pem, to: pending, mode: 0o600) }
        try await client.changeKey(to: newKey)
        try await BlockingPool.shared.run { try FileSystem.move(pending, to: keyPath) }
        if let record = readRecord() { try await writeRecord(url: record.url, contact: record.contact, key: newKey) }
        return newKey
    }

    /// After `dns01 account deactivate`: the record goes, so the next run registers afresh.
    public func forget() throws {
        try FileSystem.remove(recordPath)
        if config.accountKeyFile == nil { try FileSystem.remove(keyPath) }
    }

    private func readKey(_ path: String) throws -> AccountKey {
        do {
            return try AccountKey(pemRepresentation: FileSystem.readText(path))
        } catch let error as FileSystemError {
            throw error
        } catch let error as ACMEError {
            throw ConfigError("The account key \(path) is not usable: \(error.message)")
        }
    }

    private func readRecord() -> Record? {
        guard FileSystem.exists(recordPath),
              let record = try? JSONDecoder().decode(Record.self, from: Data(FileSystem.readBytes(recordPath))),
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
            return try ExternalAccountBinding(keyID: keyID, encodedMACKey: FileSystem.readText(file))
        } catch let error as ACMEError {
            throw ConfigError("[acme] eab_hmac_key_file \(file): \(error.message)")
        }
    }
}
