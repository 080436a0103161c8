import Blocking
import Files
import FoundationEssentials
import Glibc
import Settings
import Storage

/// `[storage]`: where the state lives. `type = "directory"` (the default) is `state_dir` alone;
/// `type = "postgres"` shares accounts, certificate versions, the journal, run history and
/// per-certificate locks among machines through PostgreSQL, with `state_dir` as each machine's
/// working copy (what web servers read, written by `dns01 sync` and `dns01 run`).
///
///     [storage]
///     type     = "postgres"
///     url_file = "/etc/dns01/pg.url"   # 0600: postgresql://dns01:…@db.example.com/dns01, or key=value pairs
///     key_file = "/etc/dns01/pg.key"   # 0600: 32 random bytes (openssl rand -hex 32); the same on every machine
public struct StorageSettings: Sendable, Equatable {
    public enum Kind: String, Sendable { case directory, postgres }

    public var kind: Kind
    /// The file holding libpq's connection string (its password never leaves it).
    public var urlFile: String?
    /// The file holding the AES-256-GCM key private keys are sealed with in the database.
    public var keyFile: String?

    public init(kind: Kind = .directory, urlFile: String? = nil, keyFile: String? = nil) {
        self.kind = kind
        self.urlFile = urlFile
        self.keyFile = keyFile
    }

    static func parse(_ settings: Settings) throws -> StorageSettings {
        try settings.rejectUnknownKeys(allowed: ["type", "url_file", "key_file"])
        let type = try settings.string("type") ?? "directory"
        guard let kind = Kind(rawValue: type) else {
            throw ConfigError("[storage]: type '\(type.prefix(40))' is not one of \"directory\", \"postgres\".")
        }
        guard kind == .postgres else {
            for key in ["url_file", "key_file"] where settings.has(key) {
                throw ConfigError("[storage]: \(key) is only for type = \"postgres\".")
            }
            return StorageSettings()
        }
        let url = try settings.requiredString("url_file"), key = try settings.requiredString("key_file")
        for (name, path) in [("url_file", url), ("key_file", key)] where !path.hasPrefix("/") {
            throw ConfigError("[storage]: \(name) '\(path)' must be an absolute path.")
        }
        return StorageSettings(kind: kind, urlFile: url, keyFile: key)
    }

    /// Connects to the fleet's database, on the `BlockingPool` (`openState` for the core; this
    /// for `dns01 storage` and tests). The URL file and the key file are read and checked
    /// (0600) first; errors name them, never their content. `migrate: false` leaves the schema
    /// check to the first query (`dns01 sync`). `context` names the config for the error of
    /// `type = "directory"`, whose state has no database.
    public func openDatabase(migrate: Bool = true, context: String = "[storage]") async throws -> FleetDatabase {
        guard kind == .postgres, let urlFile, let keyFile else {
            throw ConfigError("\(context): [storage] type is \"\(kind.rawValue)\", so there is no PostgreSQL to work with: set type = \"postgres\" with url_file and key_file.")
        }
        let url = try SecretFile.read(urlFile, context: "[storage]", what: "url_file")
        let sealing = try SealingKey(file: keyFile)
        do {
            return try await BlockingPool.shared.run { try FleetDatabase(connectionString: url, sealing: sealing, migrate: migrate) }
        } catch let error as PostgresError where error.code == .connectionFailed && error.message.hasPrefix("the PostgreSQL connection string") {
            throw ConfigError("[storage]: url_file \(urlFile) holds neither a postgresql:// URL nor libpq key=value pairs.")
        }
    }
}
