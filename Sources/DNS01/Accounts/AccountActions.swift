import ACME
import FoundationEssentials
import Glibc
import HTTP
import Logging
import Providers
import Settings
import SwiftASN1
import X509

/// `dns01 account ...` and `dns01 revoke`: account upkeep and revocation, by the account key.
public struct AccountActions: Sendable {
    public struct Summary: Sendable, Codable {
        public var directory: String
        public var url: String
        public var status: String
        public var contact: [String]
        public var key: String
        public var thumbprint: String
    }

    let config: Configuration
    let store: AccountStore
    let transport: any HTTPTransport
    let logger: Logger

    public init(config: Configuration, logger: Logger = Logger(label: "dns01")) {
        self.config = config
        store = AccountStore(config: config.acme, storage: config.storage)
        transport = CurlTransport(caBundle: config.acme.caBundle, userAgent: "dns01")
        self.logger = logger
    }

    private func existing() async throws -> ACMEClient {
        guard let client = try await store.existingClient(transport: transport, logger: logger) else {
            throw OperationError("There is no account for \(config.acme.directory) in \(store.directory) yet; `dns01 issue` or `dns01 run` creates one.")
        }
        return client
    }

    private func summary(_ client: ACMEClient, _ account: Account) async -> Summary {
        let key = await client.accountKey
        return Summary(directory: config.acme.directory, url: await client.accountURL ?? "", status: account.status,
                       contact: account.contact ?? [], key: key.summary, thumbprint: key.thumbprint())
    }

    public func show() async throws -> Summary {
        let client = try await existing()
        return await summary(client, try await client.account())
    }

    /// Sends `[acme] email` as the account's contact (none when unset).
    public func updateContact() async throws -> Summary {
        let client = try await existing()
        return await summary(client, try await client.updateAccount(contact: config.acme.email.map { ["mailto:\($0)"] } ?? []))
    }

    /// Deactivates the account at the CA and forgets it locally (the CA cannot undo this).
    public func deactivate() async throws -> Summary {
        let client = try await existing()
        let result = await summary(client, try await client.deactivateAccount())
        try await store.forget()
        return result
    }

    public func rollover(to type: AccountKeyType) async throws -> Summary {
        let client = try await existing()
        _ = try await store.rollover(client: client, to: type)
        return await summary(client, try await client.account())
    }

    /// RFC 5280 §5.3.1 reason codes by the names certbot uses.
    public static let revocationReasons: [String: Int] = [
        "unspecified": 0, "keycompromise": 1, "affiliationchanged": 3, "superseded": 4, "cessationofoperation": 5,
    ]

    /// Revokes the live certificate `certName` with the account key.
    public func revoke(certName: String, reason: String?) async throws -> String {
        try CertificateStore.validateCertName(certName)
        let code: Int?
        if let reason {
            guard let value = Self.revocationReasons[reason.lowercased()] else {
                throw ConfigError("Revocation reason '\(reason)' is not one of \(Self.revocationReasons.keys.sorted().joined(separator: ", ")).")
            }
            code = value
        } else {
            code = nil
        }
        let store = CertificateStore(stateDir: config.acme.stateDir)
        guard let certificate = try store.currentCertificate(certName) else {
            throw ConfigError("There is no certificate named '\(certName)' in \(store.liveDirectory(certName)).")
        }
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        try await existing().revoke(certificateDER: serializer.serializedBytes, reason: code)
        return store.liveDirectory(certName)
    }
}

/// The account key types, for the CLI (which sees DNS01 only).
public typealias AccountKeyType = ACME.AccountKeyType
