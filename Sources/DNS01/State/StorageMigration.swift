import ACME
import Blocking
import FoundationEssentials
import Glibc
import Settings
import Storage

/// `dns01 storage import` and `dns01 storage export`: a state directory into the fleet's
/// PostgreSQL and back, keeping version numbers, which version is live, accounts and run
/// histories. The journal is not carried over: it holds records being presented, which the
/// machine that presented them cleans up.
///
/// Both read everything first and write after: an import refuses a directory with a broken
/// version before it stores anything, and an export whose keys do not open with `[storage]
/// key_file` writes no file. Import is idempotent: what the database already holds (the same
/// version under the same number, the same account) is counted, not stored again; what it holds
/// differently is kept and said so, except a version number holding another certificate, which
/// stops the import.
public struct StorageMigration: Sendable {
    public let database: FleetDatabase
    /// The configured certificates: the version an import makes live must be for the names
    /// of the [[certificate]] of its name (one not configured, for the names it holds).
    let certificates: [Configuration.CertificateSpec]
    let events: EventSink

    public init(database: FleetDatabase, certificates: [Configuration.CertificateSpec] = [], events: @escaping EventSink = { _ in }) {
        self.database = database
        self.certificates = certificates
        self.events = events
    }

    /// The database of `config`'s `[storage]`, refusing `type = "directory"` (exit 2).
    public static func open(_ config: Configuration, command: String) async throws -> FleetDatabase {
        guard config.storage.kind == .postgres else {
            throw ConfigError("\(config.path): [storage] type is \"\(config.storage.kind.rawValue)\", so \(command) has no PostgreSQL to work with: set type = \"postgres\" with url_file and key_file.")
        }
        return try await config.storage.openDatabase(context: config.path)
    }

    // MARK: - Import

    public struct ImportSummary: Sendable, Codable, Equatable {
        public var from: String
        public var server: String
        /// Certificates of which at least one version was stored.
        public var certificates = 0
        public var versions = 0
        public var accounts = 0
        public var histories = 0
        /// What the database held already (the same content), not stored again.
        public var certificatesAlreadyThere = 0
        public var versionsAlreadyThere = 0
        public var accountsAlreadyThere = 0
        public var historiesAlreadyThere = 0
        /// What was left out, and why.
        public var notes: [String] = []

        /// "Imported 3 certificates (7 versions), 1 account and 3 run histories from DIR into
        /// PostgreSQL at HOST:PORT; nothing was there already."
        public var sentence: String {
            let imported = Self.list(certificates, versions, accounts, histories)
            let there = Self.list(certificatesAlreadyThere, versionsAlreadyThere, accountsAlreadyThere, historiesAlreadyThere)
            let head = imported.map { "Imported \($0) from \(from) into PostgreSQL at \(server)" }
                ?? "Imported nothing from \(from) into PostgreSQL at \(server)"
            return head + "; " + (there.map { "\($0) \(alreadyVerb) there already." } ?? "nothing was there already.")
        }

        private var alreadyVerb: String {
            certificatesAlreadyThere + versionsAlreadyThere + accountsAlreadyThere + historiesAlreadyThere == 1 ? "was" : "were"
        }

        static func list(_ certificates: Int, _ versions: Int, _ accounts: Int, _ histories: Int) -> String? {
            var parts: [String] = []
            if certificates > 0 || versions > 0 {
                parts.append("\(count(certificates, "certificate")) (\(count(versions, "version")))")
            }
            if accounts > 0 { parts.append(count(accounts, "account")) }
            if histories > 0 { parts.append(count(histories, "run history", plural: "run histories")) }
            switch parts.count {
            case 0: return nil
            case 1: return parts[0]
            default: return parts.dropLast().joined(separator: ", ") + " and " + (parts.last ?? "")
            }
        }

        static func count(_ number: Int, _ noun: String, plural: String? = nil) -> String {
            "\(number) \(number == 1 ? noun : plural ?? noun + "s")"
        }
    }

    /// `version` read from `directory` as a candidate for `CertificateStore.validate`, for
    /// `names`.
    static func candidate(_ version: StoredVersion, names: [String], in directory: String) -> CertificateStore.Candidate {
        let place = "\(version.name) version \(version.version) in \(directory)"
        return CertificateStore.Candidate(
            name: version.name, chainPEM: version.chainPEM, keyPEM: version.keyPEM, names: names, source: .new,
            origin: CertificateChain.Origin(phrase: "of \(place)", key: "its privkey.pem", names: "the configured names",
                                            empty: "The chain of \(place) holds no PEM certificate."))
    }

    /// Refuses the import (nothing stored) for a version whose key is not its certificate's,
    /// or whose chain is not signed in order; expiry and names are not asked of old versions.
    func check(_ version: StoredVersion, in directory: String) throws {
        do {
            _ = try CertificateStore.validate(Self.candidate(version, names: version.names, in: directory), now: .distantPast)
        } catch {
            var reason = describe(error)
            if reason.hasSuffix(".") { reason.removeLast() }
            throw OperationError("\(reason), so nothing was imported; fix or remove that version first.")
        }
    }

    /// Why `version` must not become live (not for the configured names, expired), or nil.
    func refusalToMakeLive(_ version: StoredVersion, in directory: String) -> String? {
        let names = certificates.first { $0.name == version.name }?.domains ?? version.names
        do {
            _ = try CertificateStore.validate(Self.candidate(version, names: names, in: directory))
            return nil
        } catch {
            return describe(error)
        }
    }

    /// Copies the state directory `directory` into the database, on the `BlockingPool`.
    public func importDirectory(_ directory: String) async throws -> ImportSummary {
        try await BlockingPool.shared.run { try self.importNow(directory) }
    }

    func importNow(_ directory: String) throws -> ImportSummary {
        let contents = try StateDirectoryContents.read(directory)
        for note in contents.notes { events(.warning(note)) }
        var summary = ImportSummary(from: directory, server: database.connection.serverName, notes: contents.notes)
        func note(_ text: String) {
            summary.notes.append(text)
            events(.warning(text))
        }

        // Everything is compared with what the database holds before anything is written.
        let stored = Dictionary(try database.certificates().map { ($0.name, $0.live) }, uniquingKeysWith: { first, _ in first })
        var writes: [(version: StoredVersion, live: Bool, new: Bool)] = []
        for certificate in contents.certificates {
            let existing = stored[certificate.name] == nil ? [] : try database.versions(of: certificate.name)
            let databaseLive = stored[certificate.name] ?? nil
            var setLive = certificate.live != nil && databaseLive == nil
            if let live = certificate.live, let databaseLive, databaseLive != live {
                note("\(certificate.name): PostgreSQL's live version is \(databaseLive), the directory's \(live); kept PostgreSQL's")
                setLive = false
            }
            var added = 0
            for version in certificate.versions {
                var live = setLive && version.version == certificate.live
                // Every version is checked as `CertificateStore.install` checks one (its key, its
                // chain's order); the one made live also for the configured names and expiry.
                try check(version, in: directory)
                if live, let refusal = refusalToMakeLive(version, in: directory) {
                    note("\(certificate.name): version \(version.version) is imported but not made live: \(refusal)")
                    live = false
                }
                if let same = existing.first(where: { $0.version == version.version }) {
                    guard same.chainPEM == version.chainPEM && same.keyPEM == version.keyPEM else {
                        throw OperationError("Version \(version.version) of \(certificate.name) in PostgreSQL at \(database.connection.serverName) is another certificate than the one in \(directory)/archive/\(certificate.name), so nothing was imported; export the database or remove that certificate there first.")
                    }
                    summary.versionsAlreadyThere += 1
                    if live { writes.append((version, true, false)) }
                } else {
                    writes.append((version, live, true))
                    added += 1
                }
            }
            summary.versions += added
            if added > 0 { summary.certificates += 1 } else { summary.certificatesAlreadyThere += 1 }
        }
        var accounts: [StoredAccount] = []
        for account in contents.accounts {
            if let held = try database.account(directory: account.directory) {
                if held == account {
                    summary.accountsAlreadyThere += 1
                } else {
                    note("PostgreSQL already holds another account for \(account.directory); kept it, not the one in \(directory)/accounts")
                }
            } else {
                accounts.append(account)
            }
        }
        let heldHistories = try database.histories(Array(contents.histories.keys))
        var histories: [(name: String, json: String)] = []
        for (name, json) in contents.histories.sorted(by: { $0.key < $1.key }) {
            switch heldHistories[name] {
            case nil: histories.append((name, json))
            case json?: summary.historiesAlreadyThere += 1
            default: note("\(name): PostgreSQL already holds another run history; kept it")
            }
        }

        for write in writes {
            let inserted = try database.importVersion(write.version, live: write.live)
            if write.new && !inserted {
                // Another machine stored this number between the comparison and now.
                throw OperationError("Version \(write.version.version) of \(write.version.name) was stored in PostgreSQL at \(database.connection.serverName) by another machine during the import; run the import again to compare it.")
            }
        }
        for account in accounts { try database.putAccount(account) }
        for history in histories { try database.putHistory(history.json, for: history.name) }
        summary.accounts = accounts.count
        summary.histories = histories.count
        return summary
    }
}
