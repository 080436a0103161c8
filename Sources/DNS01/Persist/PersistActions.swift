import ACME
import Clocks
import DNS
import FoundationEssentials
import Glibc
import HTTP
import Logging

/// `dns01 persist`: sets, removes and lists dns-persist-01 records
/// (draft-ietf-acme-dns-persist-01), the TXT values at `_validation-persist.<name>` that let one
/// CA issue for a name to one account without a DNS change per order.
///
/// Records are written through the zone's provider, like challenge records, and waited for at
/// every authoritative nameserver; unlike challenge records they are not journaled, since they
/// are meant to stay. The CA's issuer domain name comes from `--issuer`, else the first of the
/// directory's `caaIdentities`; the account is the stored one (registered first when writing,
/// as `dns01 issue` does).
public struct PersistActions: Sendable {
    /// Who the records name.
    public struct Identity: Sendable, Codable {
        /// The CA's issuer domain names; the first is the one written.
        public var issuerNames: [String]
        /// The account URL; nil when no account is registered with the CA yet (`--list` only).
        public var accountURL: String?
    }

    /// What `write` did for one name.
    public struct Written: Sendable, Codable {
        public var name: String
        public var recordName: String
        public var zone: String
        public var provider: String
        public var value: String
        /// False when every authoritative server served the value already: nothing was written.
        public var written: Bool
        /// Older values of this CA and account at the name, removed once the new one was served.
        public var replaced: [String]
    }

    /// What `remove` did for one name.
    public struct Removed: Sendable, Codable {
        public var name: String
        public var recordName: String
        public var zone: String
        public var removed: [String]
    }

    /// One value found by `list`.
    public struct ListedValue: Sendable, Codable {
        /// As served (control characters shown as "?", cut at 300 characters).
        public var value: String
        public var record: PersistRecord?
        /// Why the value is not a well-formed record.
        public var malformed: String?
        /// Whether the record lets this CA issue for the name to this account, and for its wildcard.
        public var authorizes: Bool
        public var authorizesWildcard: Bool
        /// Why not (or "authorizes this CA and account"), for the name and for the wildcard.
        public var verdict: String
        public var wildcardVerdict: String
    }

    /// What `list` found at one name.
    public struct Listed: Sendable, Codable {
        public var name: String
        public var validationName: String
        public var recordName: String?
        public var zone: String?
        /// Per nameserver address: its values or its failure.
        public var answers: [PersistLookup.ServerAnswer]
        /// Every server answered with the same values.
        public var consistent: Bool
        public var values: [ListedValue]
        /// Every server serves a value that authorizes the name (its wildcard).
        public var authorized: Bool
        public var authorizedWildcard: Bool
        /// Why the name could not be looked up at all.
        public var error: String?
    }

    public struct Listing: Sendable, Codable {
        public var identity: Identity
        public var names: [Listed]
    }

    public let config: Configuration
    let events: EventSink
    let logger: Logger
    let deployer: ChallengeDeployer
    let lookup: PersistLookup
    let transport: any HTTPTransport

    public init(config: Configuration, events: @escaping EventSink, logger: Logger = Logger(label: "dns01")) {
        self.config = config
        self.events = events
        self.logger = logger
        deployer = ChallengeDeployer(config: config, events: events)
        lookup = PersistLookup(deployer: deployer)
        transport = CurlTransport(caBundle: config.acme.caBundle, userAgent: "dns01")
    }

    /// The names `--list` shows without `-d`: every name of every [[certificate]].
    public static func defaultNames(_ config: Configuration) -> [String] {
        var names: [String] = []
        for name in config.certificates.flatMap(\.domains) where !names.contains(name) { names.append(name) }
        return names
    }

    /// `--until`: an ISO 8601 date (midnight UTC that day) or date-time (with "Z" or an offset).
    /// A time that is not after `now` is a usage error: the CA would ignore the record at once.
    public static func parseUntil(_ text: String, now: Date = Date()) throws -> Date {
        let styles = [Date.ISO8601FormatStyle(), Date.ISO8601FormatStyle(includingFractionalSeconds: true),
                      Date.ISO8601FormatStyle().year().month().day()]
        let date = styles.lazy.compactMap { try? Date(text, strategy: $0) }.first
        guard let date else {
            throw UsageError("--until '\(text)' is not an ISO 8601 date (2027-01-31) or date-time (2027-01-31T12:00:00Z).")
        }
        guard date > now else {
            throw UsageError("--until \(text) is in the past: the CA would ignore the record at once.")
        }
        return date
    }

    /// The CA's issuer domain names and this account's URL. `register`: create the account when
    /// there is none yet (as `dns01 issue` does); otherwise the URL is nil then.
    public func identity(issuer: String?, register: Bool) async throws -> Identity {
        let store = AccountStore(config: config.acme, storage: config.storage)
        let client = register ? try await store.client(transport: transport, logger: logger)
                              : try await store.existingClient(transport: transport, logger: logger)
        var issuerNames: [String] = []
        if let issuer {
            issuerNames = [try Self.issuerName(issuer)]
        } else {
            // Reading the directory needs no account: a throw-away key when there is none.
            let reader = try client ?? ACMEClient(directoryURL: config.acme.directory, transport: transport,
                                                  accountKey: AccountKey.generate(.ec256), logger: logger)
            let directory = try await reader.directory()
            for identity in directory.meta?.caaIdentities ?? [] {
                if let name = try? DomainName.normalize(identity), !issuerNames.contains(name) { issuerNames.append(name) }
            }
            guard !issuerNames.isEmpty else {
                throw OperationError("The CA at \(config.acme.directory) names no issuer domain name in its directory (no caaIdentities): give the one it expects with --issuer NAME.")
            }
        }
        return Identity(issuerNames: issuerNames, accountURL: await client?.accountURL)
    }

    /// `--issuer`, checked: a domain name, lowercase, no trailing dot (draft §3.1).
    public static func issuerName(_ text: String) throws -> String {
        do {
            return try DomainName.normalize(text)
        } catch let error as DNSError {
            throw UsageError("--issuer: \(error.message)")
        }
    }

    /// The names given, by validated name: "*.example.com" is "example.com" with a wildcard.
    static func bases(_ names: [String], wildcard: Bool) -> [(name: String, wildcard: Bool)] {
        var result: [(name: String, wildcard: Bool)] = []
        for name in names {
            let isWildcard = DomainName.isWildcard(name)
            let base = DomainName.base(of: name)
            if let index = result.firstIndex(where: { $0.name == base }) {
                result[index].wildcard = result[index].wildcard || isWildcard
            } else {
                result.append((base, wildcard || isWildcard))
            }
        }
        return result
    }

    /// Values at `served` that name one of `identity`'s issuers and its account.
    static func ours(_ served: PersistLookup.Served, _ identity: Identity) -> [String] {
        guard let account = identity.accountURL else { return [] }
        return served.values.filter { value in
            guard let record = try? PersistRecord(parsing: value) else { return false }
            return record.names(issuerIn: identity.issuerNames) && record.accountURI == account
        }
    }

    /// Sets the record of every name: written where a server lacks it, then waited for at every
    /// authoritative server; older values of this CA and account at the same name (another
    /// policy or persistUntil) are removed once the new one is served, so a `--until` is not
    /// undone by an older record without one.
    public func write(names: [String], wildcard: Bool, until: Date?, issuer: String?) async throws -> [Written] {
        try await deployer.checkStateDirectory()
        await deployer.cleanupOrphans()
        let identity = try await identity(issuer: issuer, register: true)
        guard let account = identity.accountURL else {
            throw OperationError("The CA at \(config.acme.directory) gave no account URL when the account was registered.")
        }
        let bases = Self.bases(names, wildcard: wildcard)
        var records: [String: PersistRecord] = [:]
        for base in bases {
            do {
                records[base.name] = try PersistRecord(issuer: identity.issuerNames[0], accountURI: account,
                                                       wildcard: base.wildcard, persistUntil: until)
            } catch let error as PersistRecord.Malformed {
                throw OperationError("Cannot make the record for \(base.name): \(error.reason).")
            }
        }
        let found = try await inspect(bases.map(\.name))
        var results: [Written] = []
        var toWrite: [ChallengeRecord] = []
        var stale: [(record: ChallengeRecord, served: PersistLookup.Served)] = []
        for base in bases {
            guard let (target, served) = found[base.name], let value = records[base.name]?.text else { continue }
            let already = served.servedEverywhere { $0 == value }
            let ours = Self.ours(served, identity)
            let older = ours.filter { $0 != value }
            // A provider that keeps one value per name would replace another CA's or account's record.
            if let single = target.providers.first(where: config.singleValueProviders.contains),
               served.values.contains(where: { $0 != value && !ours.contains($0) }) {
                throw OperationError("Provider '\(single)' keeps one TXT value per name (single_value = true), and \(target.recordName) already holds a value of another CA or account that writing this record would replace.")
            }
            if !already { toWrite.append(ChallengeRecord(target: target, value: value)) }
            stale += older.map { (ChallengeRecord(target: target, value: $0), served) }
            results.append(Written(name: base.name, recordName: target.recordName, zone: target.zone, provider: target.provider,
                                   value: value, written: !already, replaced: older))
            if already { events(.step("\(served.recordName) already serves the record at every nameserver")) }
        }
        if !toWrite.isEmpty {
            try await deployer.presentPersistent(toWrite)
            try await deployer.waitUntilVisible(toWrite)
        }
        if !stale.isEmpty {
            try await deployer.removePersistent(stale.map(\.record))
            try await waitUntilGone(stale)
        }
        return results
    }

    /// Removes, at every name, exactly the values that name this CA and this account (whatever
    /// their policy or persistUntil); other values stay. Waits until no server serves them.
    public func remove(names: [String], issuer: String?) async throws -> [Removed] {
        try await deployer.checkStateDirectory()
        await deployer.cleanupOrphans()
        let identity = try await identity(issuer: issuer, register: false)
        guard identity.accountURL != nil else {
            throw OperationError("There is no account for \(config.acme.directory) in \(AccountStore(config: config.acme).directory) yet, so no record names it.")
        }
        let bases = Self.bases(names, wildcard: false)
        let found = try await inspect(bases.map(\.name))
        var results: [Removed] = []
        var doomed: [(record: ChallengeRecord, served: PersistLookup.Served)] = []
        for base in bases {
            guard let (target, served) = found[base.name] else { continue }
            let values = Self.ours(served, identity)
            doomed += values.map { (ChallengeRecord(target: target, value: $0), served) }
            results.append(Removed(name: base.name, recordName: target.recordName, zone: target.zone, removed: values))
            if values.isEmpty { events(.step("\(served.recordName) holds no record of this CA and account")) }
        }
        if !doomed.isEmpty {
            try await deployer.removePersistent(doomed.map(\.record))
            try await waitUntilGone(doomed)
        }
        return results
    }

    /// What every authoritative server serves at each name, parsed, and whether it lets this CA
    /// issue to this account. Asks the servers only (never a resolver); registers nothing.
    public func list(names: [String], issuer: String?) async throws -> Listing {
        let identity = try await identity(issuer: issuer, register: false)
        let bases = Self.bases(names, wildcard: false)
        let now = Date()
        let listed = await withTaskGroup(of: (Int, Listed).self) { group in
            for (index, base) in bases.enumerated() {
                group.addTask { (index, await self.listed(base.name, identity: identity, now: now)) }
            }
            var results = [Listed?](repeating: nil, count: bases.count)
            for await (index, entry) in group { results[index] = entry }
            return results.compactMap { $0 }
        }
        return Listing(identity: identity, names: listed)
    }

    private func listed(_ name: String, identity: Identity, now: Date) async -> Listed {
        let validationName = PersistRecord.validationName(for: name)
        let served: PersistLookup.Served
        do {
            served = try await lookup.served(at: name)
        } catch {
            return Listed(name: name, validationName: validationName, recordName: nil, zone: nil, answers: [], consistent: false,
                          values: [], authorized: false, authorizedWildcard: false, error: describe(error))
        }
        let accounts = identity.accountURL.map { [$0] } ?? []
        func verdict(_ record: PersistRecord, wildcard: Bool) -> PersistRecord.Verdict {
            if accounts.isEmpty && record.names(issuerIn: identity.issuerNames) && record.accountURI != nil {
                return .otherAccount("no account is registered with this CA yet")
            }
            return record.verdict(name: name, wildcard: wildcard, issuerNames: identity.issuerNames, accountURIs: accounts, now: now)
        }
        let values = served.values.map { value -> ListedValue in
            let shown = UntrustedText.clip(value, limit: 300)
            do {
                let record = try PersistRecord(parsing: value)
                let plain = verdict(record, wildcard: false), wildcard = verdict(record, wildcard: true)
                return ListedValue(value: shown, record: record, malformed: nil, authorizes: plain == .authorizes,
                                   authorizesWildcard: wildcard == .authorizes, verdict: plain.description,
                                   wildcardVerdict: wildcard.description)
            } catch {
                let reason = (error as? PersistRecord.Malformed)?.reason ?? describe(error)
                return ListedValue(value: shown, record: nil, malformed: reason, authorizes: false, authorizesWildcard: false,
                                   verdict: "malformed: \(reason)", wildcardVerdict: "malformed: \(reason)")
            }
        }
        func everywhere(wildcard: Bool) -> Bool {
            served.servedEverywhere { value in
                guard let record = try? PersistRecord(parsing: value) else { return false }
                return verdict(record, wildcard: wildcard) == .authorizes
            }
        }
        return Listed(name: name, validationName: validationName, recordName: served.recordName, zone: served.zone,
                      answers: served.answers, consistent: served.consistent, values: values,
                      authorized: everywhere(wildcard: false), authorizedWildcard: everywhere(wildcard: true), error: nil)
    }

    /// Target and served values of every name, looked up concurrently.
    private func inspect(_ names: [String]) async throws -> [String: (ChallengeTarget, PersistLookup.Served)] {
        try await withThrowingTaskGroup(of: (String, ChallengeTarget, PersistLookup.Served).self) { group in
            for name in names {
                group.addTask {
                    let target = try await self.deployer.persistTarget(for: name)
                    return (name, target, try await self.lookup.served(at: name))
                }
            }
            var result: [String: (ChallengeTarget, PersistLookup.Served)] = [:]
            for try await (name, target, served) in group { result[name] = (target, served) }
            return result
        }
    }

    /// Waits, per name, until no authoritative server serves the removed values.
    private func waitUntilGone(_ removed: [(record: ChallengeRecord, served: PersistLookup.Served)]) async throws {
        var byName: [String: (served: PersistLookup.Served, values: Set<String>)] = [:]
        for (record, served) in removed {
            byName[served.recordName, default: (served, [])].values.insert(record.value)
        }
        let start = ContinuousClock.now
        let lookup = self.lookup, timeout = config.dns.propagationTimeout, interval = config.dns.pollInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (_, entry) in byName {
                group.addTask { try await lookup.waitUntilGone(entry.values, at: entry.served, timeout: timeout, pollInterval: interval) }
            }
            try await group.waitForAll()
        }
        events(.step("\(removed.count) value(s) gone from every nameserver after \((ContinuousClock.now - start).elapsedText)"))
    }
}
