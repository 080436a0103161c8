import Blocking
import Clocks
import DNS
import FoundationEssentials
import Glibc
import HTTP
import Providers
import Storage
import Synchronization

/// The DNS half of DNS-01: finds where each challenge record goes, presents all of them grouped
/// per provider and zone, waits once until every authoritative nameserver serves every value,
/// and removes exactly what it added. Used by `issue`, `run`, `check` and the certbot hooks.
public final class ChallengeDeployer: Sendable {
    public let config: Configuration
    let zoneFinder: ZoneFinder
    let events: EventSink
    let journal: Journal
    let clock: any DeadlineClock
    /// Records a provider refused whole: never written, so never cleaned up.
    private let unwritten = Mutex<Set<ChallengeRecord>>([])
    /// Orphans are cleaned once per deployer, by the first command step that asks.
    private let orphansDone = Mutex(false)

    /// `owner`: the process whose lifetime the presented records share (certbot for its
    /// hooks); this process when nil.
    /// `journal`: where the journal keeps entries (`StateStore.journalBackend`).
    public init(config: Configuration, events: @escaping EventSink, owner: ProcessIdentity? = nil,
                clock: any DeadlineClock = SystemClock(), journal backend: any JournalBackend = DirectoryJournal()) {
        self.config = config
        self.events = events
        self.clock = clock
        zoneFinder = config.makeZoneFinder()
        journal = Journal(stateDir: config.acme.stateDir, owner: owner, backend: backend)
    }

    /// The target for one identifier ("*.example.test" and "example.test" share one). The
    /// providers are the ones named (`providers`, a certificate's `provider`), else the zone's
    /// (`[[zone]] provider`), else the one whose `zones` has the longest suffix of the name.
    /// With `accountLabel` (dns-account-01), the record goes to `<label>._acme-challenge.<domain>`.
    public func target(for identifier: String, providers named: [String] = [], accountLabel: String? = nil) async throws -> ChallengeTarget {
        let domain = DomainName.base(of: identifier)
        let challengeName = accountLabel.map { "\($0)." + DomainName.challengeName(for: domain) } ?? DomainName.challengeName(for: domain)
        return try await target(recordAt: challengeName, domain: domain, providers: named)
    }

    /// The target for a record at `challengeName` (its CNAME chain followed to the zone that
    /// holds it); `domain` is the name it validates. Shared by challenge and persist records.
    func target(recordAt challengeName: String, domain: String, providers named: [String] = []) async throws -> ChallengeTarget {
        let (recordName, zone) = try await zoneFinder.locate(challengeName)
        var providers = named.isEmpty ? config.zoneProviders[zone] ?? [] : named
        if providers.isEmpty, let provider = config.provider(for: recordName) { providers = [provider.name] }
        guard let first = providers.first else {
            let via = recordName == challengeName ? "" : " (a CNAME of \(challengeName))"
            throw OperationError("No [[provider]] serves \(recordName)\(via) in zone \(zone): add the zone to a provider's zones.")
        }
        return ChallengeTarget(domain: domain, challengeName: challengeName, recordName: recordName,
                               zone: zone, provider: first, alsoProviders: Array(providers.dropFirst()))
    }

    /// The nameserver addresses the waiter polls for `zone` (the `[[zone]]` override or the
    /// zone's NS set).
    public func nameservers(of zone: String) async throws -> [Nameserver] {
        try await zoneFinder.nameservers(of: zone)
    }

    /// Targets for many identifiers, looked up concurrently, by identifier.
    public func targets(for identifiers: [String], providers: [String] = [], accountLabel: String? = nil) async throws -> [String: ChallengeTarget] {
        try await withThrowingTaskGroup(of: (String, ChallengeTarget).self) { group in
            for identifier in Set(identifiers) {
                group.addTask { (identifier, try await self.target(for: identifier, providers: providers, accountLabel: accountLabel)) }
            }
            var result: [String: ChallengeTarget] = [:]
            for try await (identifier, target) in group { result[identifier] = target }
            return result
        }
    }

    /// Presents every record: one provider call per (provider, zone), all calls concurrently.
    /// The records are journaled first, so a crash cannot leave them behind unnoticed. Throws
    /// the first failure after every call has finished, so the caller's cleanup sees a settled
    /// state.
    public func present(_ records: [ChallengeRecord]) async throws {
        let outcomes = try await presentEach(records)
        if let first = outcomes.compactMap(\.error).first { throw first }
    }

    /// Like `present`, but reports each (provider, zone) group's outcome, so a batch can fail
    /// only the certificates whose group failed. Throws only if the journal cannot be written.
    /// Records of a group the provider refused whole leave the journal at once: nothing of
    /// theirs is published, so no later run has anything to clean.
    public func presentEach(_ records: [ChallengeRecord]) async throws -> [Outcome] {
        guard !records.isEmpty else { return [] }
        let journal = self.journal
        let path = try await BlockingPool.shared.run { try journal.add(records) }
        let outcomes = await forEachGroup(of: records, verb: "presented") { provider, zone, txt in
            try await provider.present(txt, zone: zone)
        }
        let refused = Outcome.unwritten(outcomes)
        if !refused.isEmpty {
            unwritten.withLock { $0.formUnion(refused) }
            do {
                try await BlockingPool.shared.run { try journal.remove(refused, from: path) }
            } catch {
                events(.warning("the journal still lists records that were never written: \(describe(error))"))
            }
        }
        return outcomes
    }

    /// Removes every record, even when the calling task is cancelled (SIGINT/SIGTERM); returns
    /// the failures (cleanup goes on past one). Records that were removed leave the journal,
    /// whichever process journaled them; the others stay there for the next run.
    @discardableResult
    public func cleanup(_ records: [ChallengeRecord]) async -> [any Error] {
        guard !records.isEmpty else { return [] }
        return await Task.detached { await self.cleanupNow(records) }.value
    }

    private func cleanupNow(_ records: [ChallengeRecord]) async -> [any Error] {
        let refused = unwritten.withLock { $0 }
        let outcomes = await forEachGroup(of: records.filter { !refused.contains($0) }, verb: "removed") { provider, zone, txt in
            try await provider.cleanup(txt, zone: zone)
        }
        await forget(Outcome.succeeded(outcomes))
        let errors = outcomes.compactMap(\.error)
        for failure in errors {
            events(.warning("cleanup failed, so the record(s) stay in the journal for the next run: \(describe(failure))"))
        }
        return errors
    }

    /// Takes removed records out of the journal.
    private func forget(_ cleaned: Set<ChallengeRecord>) async {
        guard !cleaned.isEmpty else { return }
        let journal = self.journal
        do {
            try await BlockingPool.shared.run { try journal.forget(cleaned) }
        } catch {
            events(.warning("the records were removed but the journal still lists them: \(describe(error))"))
        }
    }

    /// Refuses a state or journal directory that another user could write to (ConfigError).
    public func checkStateDirectory() async throws {
        let journal = self.journal
        try await BlockingPool.shared.run { try journal.checkDirectories() }
    }

    /// Cleans up records that a crashed or killed run left behind (its journal entries), once
    /// per deployer: every command that may touch DNS calls it first. An entry whose cleanup
    /// fails is reported once, with the reason, and retried with back-off
    /// (`Journal.retryDelay`), not on every run. Returns how many records were removed.
    @discardableResult
    public func cleanupOrphans(now: Date = Date()) async -> Int {
        let first = orphansDone.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return 0 }
        let journal = self.journal
        let scan: Journal.Scan
        do {
            scan = try await BlockingPool.shared.run { try journal.scan(now: now) }
        } catch {
            events(.warning("records left by earlier runs were not cleaned up: \(describe(error))"))
            return 0
        }
        for rejected in scan.rejected { events(.warning(rejected.reason)) }
        var removed = 0
        for (path, entry) in scan.orphans {
            events(.step("cleaning up \(entry.records.count) record(s) left by \(entry.writerDescription), which is no longer running"))
            let outcomes = await Task.detached {
                await self.forEachGroup(of: entry.records, verb: "removed") { provider, zone, txt in
                    try await provider.cleanup(txt, zone: zone)
                }
            }.value
            let cleaned = Outcome.succeeded(outcomes)
            removed += cleaned.count
            await forget(cleaned)
            let failures = outcomes.compactMap(\.error)
            guard !failures.isEmpty else { continue }
            let reason = failures.map(describe).joined(separator: " ")
            let failed = outcomes.filter { $0.error != nil }.flatMap(\.records)
            let names = Self.places(failed)
            let updated = try? await BlockingPool.shared.run { try journal.recordFailure(at: path, reason: reason, now: now) }
            let next = updated?.retryAfter.map { " after \($0.formatted(.iso8601))" } ?? ""
            if (updated?.failures ?? 1) <= 1 {
                events(.warning("cannot remove \(failed.count) record(s) left by \(entry.writerDescription) (\(names)); they stay in the journal and are retried\(next): \(reason)"))
            } else {
                events(.step("removing \(failed.count) record(s) left by \(entry.writerDescription) failed again (\(updated?.failures ?? 0) times); next attempt\(next)"))
            }
        }
        if !scan.deferred.isEmpty {
            let count = scan.deferred.reduce(0) { $0 + $1.entry.records.count }
            events(.step("\(count) record(s) left by earlier runs wait for their next cleanup attempt"))
        }
        return removed
    }

    /// "NAME in zone ZONE, …": where records live, for messages.
    public static func places(_ records: [ChallengeRecord]) -> String {
        var seen: [String] = []
        for record in records {
            let place = "\(record.target.recordName) in zone \(record.target.zone)"
            if !seen.contains(place) { seen.append(place) }
        }
        return seen.joined(separator: ", ")
    }

    /// Waits until every authoritative nameserver of every record's zone serves all of the
    /// record's values (and the resolvers too with `also_check_resolvers`).
    public func waitUntilVisible(_ records: [ChallengeRecord], timeout: Duration? = nil) async throws {
        for try await _ in try await visibility(of: records, timeout: timeout) {}
    }

    /// The propagation wait for `records` as a sequence of polling rounds, each naming the
    /// record names that became visible everywhere; progress lines for the CLI are derived from
    /// the rounds as they pass. Ends after the last name is visible; throws the waiter's timeout
    /// (`[dns] propagation_timeout`, or `timeout`).
    public func visibility(of records: [ChallengeRecord], timeout: Duration? = nil) async throws -> AsyncThrowingStream<PropagationRound, any Error> {
        let deadline = clock.now + (timeout ?? config.dns.propagationTimeout)
        var valuesByName: [String: (zone: String, values: Set<String>)] = [:]
        for record in records {
            valuesByName[record.target.recordName, default: (record.target.zone, [])].values.insert(record.value)
        }
        var checks: [PropagationCheck] = []
        for (name, entry) in valuesByName.sorted(by: { $0.key < $1.key }) {
            let servers = try await zoneFinder.nameservers(of: entry.zone)
            checks.append(PropagationCheck(name: name, values: entry.values, nameservers: servers,
                                           resolvers: config.dns.alsoCheckResolvers ? config.dns.resolvers : [], zone: entry.zone))
        }
        let serverCount = Set(checks.flatMap { $0.nameservers.map(\.address) + $0.resolvers }).count
        if !checks.isEmpty {
            events(.step("waiting for \(records.count) value(s) at \(checks.count) name(s) on \(serverCount) nameserver address(es)"))
        }
        let start = clock.now
        let rounds = PropagationWaiter(pollInterval: config.dns.pollInterval, clock: clock).rounds(for: checks, deadline: deadline)
        let sink = events, clock = self.clock
        let (stream, continuation) = AsyncThrowingStream<PropagationRound, any Error>.makeStream(bufferingPolicy: .unbounded)
        let relay = Task {
            do {
                for try await round in rounds {
                    for event in round.events { sink(.propagation(event)) }
                    continuation.yield(round)
                }
                if !checks.isEmpty { sink(.step("all values visible at every nameserver after \((clock.now - start).elapsedText)")) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in relay.cancel() }
        return stream
    }

    /// What came of one provider call: its records and its failure, if any.
    public struct Outcome: Sendable {
        public var records: [ChallengeRecord]
        public var error: (any Error)?

        /// Records that every provider writing them handled: with several providers for a
        /// zone, one failure leaves the record to be retried.
        static func succeeded(_ outcomes: [Outcome]) -> Set<ChallengeRecord> {
            let failed = Set(outcomes.filter { $0.error != nil }.flatMap(\.records))
            return Set(outcomes.filter { $0.error == nil }.flatMap(\.records)).subtracting(failed)
        }

        /// Records that no provider wrote: every call that held them was refused whole.
        static func unwritten(_ outcomes: [Outcome]) -> Set<ChallengeRecord> {
            let refused = Set(outcomes.filter { ($0.error as? ProviderError)?.wroteNothing == true }.flatMap(\.records))
            let written = Set(outcomes.filter { ($0.error as? ProviderError)?.wroteNothing != true }.flatMap(\.records))
            return refused.subtracting(written)
        }
    }

    /// Runs `body` once per (provider, zone) group, all groups concurrently.
    func forEachGroup(
        of records: [ChallengeRecord], verb: String,
        _ body: @escaping @Sendable (any DNSProvider, String, [TXTRecord]) async throws -> Void
    ) async -> [Outcome] {
        var groups: [GroupKey: [ChallengeRecord]] = [:]
        for record in records {
            for provider in record.target.providers {
                groups[GroupKey(provider: provider, zone: record.target.zone), default: []].append(record)
            }
        }
        let providers = config.providers
        let redactor = config.redactor
        let sink = events
        return await withTaskGroup(of: Outcome.self) { group in
            for (key, members) in groups {
                var txt: [TXTRecord] = []
                for member in members {
                    let record = TXTRecord(name: member.target.recordName, value: member.value)
                    if !txt.contains(record) { txt.append(record) }
                }
                guard let provider = providers.first(where: { $0.name == key.provider }) else {
                    let error = OperationError("No [[provider]] named '\(key.provider)' is configured for zone \(key.zone).")
                    group.addTask { Outcome(records: members, error: error) }
                    continue
                }
                group.addTask { [txt] in
                    do {
                        try await body(provider, key.zone, txt)
                        sink(.step("\(verb) \(txt.count) record(s) in \(key.zone) via \(provider.label)"))
                        return Outcome(records: members, error: nil)
                    } catch var error as ProviderError {
                        // A provider takes its own secrets out; every other configured one goes
                        // here, before the text is shown, stored or passed on.
                        error.message = redactor(error.message)
                        return Outcome(records: members, error: error)
                    } catch {
                        return Outcome(records: members, error: error)
                    }
                }
            }
            var outcomes: [Outcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
    }

    private struct GroupKey: Hashable { var provider: String; var zone: String }
}

