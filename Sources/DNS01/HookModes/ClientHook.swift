import Blocking
import DNS
import Files
import FoundationEssentials
import Glibc
import Settings

/// What every other ACME client's hook mode shares (certbot, dehydrated, uacme): the records a
/// hook presents belong to the client's process, not to the short-lived hook process, so the
/// journal keeps them while the client runs (a later hook process of the same run takes them out
/// again) and a later run removes them as orphans only once the client itself is gone.
///
/// Present fast, wait apart (STYLE.md 2): `presentAndWait` writes every record of the call at
/// once, grouped per zone, and waits once until every nameserver serves all of them.
public struct ClientHook: Sendable {
    /// One challenge as a client hands it over: the identifier (a wildcard's base name or
    /// `*.name`) and its TXT value.
    public struct Challenge: Codable, Equatable, Hashable, Sendable {
        public var domain: String
        public var value: String

        /// Normalises the name and checks the value. `what` names where they came from for
        /// the error sentence (e.g. "dehydrated's deploy_challenge").
        public init(domain: String, value: String, from what: String) throws {
            self.domain = try DomainName.normalize(domain, allowWildcard: true)
            // RFC 8555 §8.4: base64url of a SHA-256 digest. Only such values are journaled and
            // ever removed by a later run.
            guard Journal.isChallengeValue(value) else {
                throw UsageError("The TXT value \(what) gave for \(self.domain) is not a dns-01 value (43 base64url characters).")
            }
            self.value = value
        }

        /// `*.name` and `name` share one record name (RFC 8555 §8.4: the `_acme-challenge` label
        /// goes on the identifier without its wildcard label).
        var base: String { DomainName.base(of: domain) }
    }

    public let deployer: ChallengeDeployer

    /// `clientProcess`: the pid of the ACME client that runs the hook; its journal entries are
    /// owned by that process.
    public init(config: Configuration, events: @escaping EventSink, clientProcess: Int32) {
        deployer = ChallengeDeployer(config: config, events: events, owner: ProcessIdentity.of(pid: clientProcess))
    }

    /// Like every command that may touch DNS, a hook first checks the state directory and
    /// removes what killed runs left behind.
    public func start() async throws {
        try await deployer.checkStateDirectory()
        await deployer.cleanupOrphans()
    }

    /// The records these challenges need, one per challenge; fails naming the first name no
    /// provider serves.
    public func records(for challenges: [Challenge]) async throws -> [ChallengeRecord] {
        let targets = try await deployer.targets(for: Array(Set(challenges.map(\.domain))))
        return try challenges.map { challenge in
            guard let target = targets[challenge.domain] else {
                throw OperationError("No challenge target was found for \(challenge.domain).")
            }
            return ChallengeRecord(target: target, value: challenge.value)
        }
    }

    /// Presents every challenge at once and waits once until every nameserver serves them
    /// all. `presented` runs between the two (a client's state file notes what is out there).
    /// On failure, what was presented is removed again before the error is thrown. `client`
    /// names the ACME client for error sentences; `deploysAllFirst`: the client's earlier hook
    /// calls of this run deployed challenges it has not validated yet (dehydrated without
    /// HOOK_CHAIN), so their records still journaled count as this call's.
    @discardableResult
    public func presentAndWait(_ challenges: [Challenge], client: String = "the ACME client", deploysAllFirst: Bool = false,
                               presented: @Sendable ([ChallengeRecord]) async throws -> Void = { _ in }) async throws -> [ChallengeRecord] {
        let records = try await records(for: challenges)
        return try await presentAndWait(zip(challenges, records).map { (domain: $0.domain, record: $1) }, client: client,
                                        deploysAllFirst: deploysAllFirst, presented: presented)
    }

    /// `presentAndWait` for records already placed (lego names the record, not the identifier).
    @discardableResult
    public func presentAndWait(_ records: [ChallengeRecord], client: String = "the ACME client") async throws -> [ChallengeRecord] {
        try await presentAndWait(records.map { (domain: $0.target.domain, record: $0) }, client: client, deploysAllFirst: false, presented: { _ in })
    }

    private func presentAndWait(_ placed: [(domain: String, record: ChallengeRecord)], client: String, deploysAllFirst: Bool,
                                presented: @Sendable ([ChallengeRecord]) async throws -> Void) async throws -> [ChallengeRecord] {
        let records = placed.map(\.record)
        let singleValue = deployer.config.singleValueProviders
        var deployed = placed
        if deploysAllFirst && !singleValue.isEmpty {
            let journal = deployer.journal
            deployed = try await BlockingPool.shared.run { try journal.ownersRecords() }.map { ($0.target.domain, $0) } + deployed
        }
        try Self.refuseTwoValuesAtOneName(deployed, singleValue: singleValue, client: client)
        do {
            try await deployer.present(records)
            try await presented(records)
            try await deployer.waitUntilVisible(records)
        } catch {
            await deployer.cleanup(records)
            throw error
        }
        return records
    }

    /// A provider that keeps one TXT value per name (`single_value = true`) cannot hold two
    /// values at one name at once (a wildcard and its apex): the second would replace the
    /// first, and the wait for both could only time out, or the CA find the wrong value.
    /// Validating in rounds, as `dns01 run` does, is impossible in a hook: the client asks the
    /// CA only after every challenge is deployed (dehydrated with HOOK_CHAIN=yes in one call,
    /// and without it one call per name, all before the first validation; certbot's last auth
    /// hook call). Refused before anything is written.
    static func refuseTwoValuesAtOneName(_ deployed: [(domain: String, record: ChallengeRecord)], singleValue: Set<String>, client: String) throws {
        guard !singleValue.isEmpty else { return }
        var slots: [String: (provider: String, name: String, indices: [Int])] = [:]
        for (index, item) in deployed.enumerated() {
            for provider in item.record.target.providers where singleValue.contains(provider) {
                slots["\(provider) \(item.record.target.recordName)", default: (provider, item.record.target.recordName, [])].indices.append(index)
            }
        }
        for key in slots.keys.sorted() {
            guard let slot = slots[key] else { continue }
            let values = Set(slot.indices.map { deployed[$0].record.value }).count
            guard values > 1 else { continue }
            var domains: [String] = []
            for index in slot.indices where !domains.contains(deployed[index].domain) { domains.append(deployed[index].domain) }
            // dehydrated names a wildcard by its base name: one name, two values.
            let which = domains.joined(separator: " and ") + (domains.count < values ? " and its wildcard" : "")
            throw ConfigError("Provider '\(slot.provider)' keeps one TXT value per name (single_value = true), but \(client) needs \(values) values at \(slot.name) at once (for \(which)) and asks the CA only after writing them all: put these names in separate certificates, or issue them with `dns01 run` or `dns01 issue`, which validate them one after the other.")
        }
    }

    /// Removes exactly these values (other values at the same names stay). Throws the first
    /// error after trying every record.
    public func remove(_ records: [ChallengeRecord]) async throws {
        if let first = await deployer.cleanup(records).first { throw first }
    }

    /// Removes exactly these challenges' values where they would be.
    public func remove(_ challenges: [Challenge]) async throws {
        try await remove(try await records(for: challenges))
    }

    /// The pid of the client process that runs this hook: the outermost of the nearest
    /// ancestors whose command line runs one of `programs` (directly, or as the script of an
    /// interpreter: "python3 /usr/bin/certbot", "bash /usr/bin/dehydrated"); else the parent.
    /// Clients run hooks through shells, shims and subshells (dehydrated's `( "$HOOK" ... )` is
    /// a short-lived fork with its parent's command line), so the parent alone may be gone
    /// before the client is done.
    public static func clientProcess(named programs: Set<String>) -> Int32 {
        var pid = getppid()
        var found: Int32?
        for _ in 0..<12 {
            guard pid > 1 else { break }
            if runs(programs, pid: pid) {
                found = pid
            } else if found != nil {
                break
            }
            guard let parent = parent(of: pid) else { break }
            pid = parent
        }
        return found ?? getppid()
    }

    /// Whether process `pid` runs one of `programs`: the program, not a hook whose command line
    /// merely mentions the client.
    static func runs(_ programs: Set<String>, pid: Int32) -> Bool {
        ProcFS.commandWords(of: pid)?.contains(where: programs.contains) ?? false
    }

    static func parent(of pid: Int32) -> Int32? { ProcFS.stat(of: pid)?.parent }
}
