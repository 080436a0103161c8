import ACME
import Foundation
import Logging
import Providers

/// The ACME account under `state_dir/accounts/<ca host>/`: `account.key` (0600) and
/// `account.json`. Created on first use, reused after.
public struct AccountStore: Sendable {
    struct Record: Codable {
        var url: String
        var directory: String
        var contact: [String]
        var created: String
    }

    public let config: Configuration.ACME

    public init(config: Configuration.ACME) { self.config = config }

    public var directory: String {
        let url = URL(string: config.directory)
        var host = url?.host ?? "ca"
        if let port = url?.port { host += "_\(port)" }
        return "\(config.stateDir)/accounts/\(host)"
    }

    /// An ACME client signed in with the stored account, registering one first if there is none.
    public func client(transport: any HTTPTransport, logger: Logger) async throws -> ACMEClient {
        let keyPath = "\(directory)/account.key"
        let recordPath = "\(directory)/account.json"
        let key: AccountKey
        if FileSystem.exists(keyPath) {
            do {
                key = try AccountKey(pemRepresentation: FileSystem.readText(keyPath))
            } catch let error as FileSystemError {
                throw error
            } catch {
                throw ConfigError("The account key \(keyPath) is not a usable private key.")
            }
            if FileSystem.exists(recordPath),
               let record = try? JSONDecoder().decode(Record.self, from: Data(FileSystem.readBytes(recordPath))),
               record.directory == config.directory {
                return ACMEClient(directoryURL: config.directory, transport: transport, accountKey: key,
                                  accountURL: record.url, logger: logger)
            }
        } else {
            key = AccountKey.generate(.es256)
            // The key is stored before the CA hears of it: a crash after registration must not
            // leave an account nobody holds the key of.
            try FileSystem.writeAtomically(key.pemRepresentation, to: keyPath, mode: 0o600)
        }
        let client = ACMEClient(directoryURL: config.directory, transport: transport, accountKey: key, logger: logger)
        let directory = try await client.directory()
        if let terms = directory.meta?.termsOfService, !config.agreeTOS {
            throw ConfigError("The CA asks you to agree to its terms of service (\(terms)): set agree_tos = true in [acme].")
        }
        let contact = config.email.map { ["mailto:\($0)"] } ?? []
        let (url, _) = try await client.newAccount(contact: contact, termsOfServiceAgreed: config.agreeTOS)
        let record = Record(url: url, directory: config.directory, contact: contact,
                            created: ISO8601DateFormatter().string(from: Date()))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileSystem.writeAtomically(Array(try encoder.encode(record)), to: recordPath, mode: 0o600)
        return client
    }
}
