import DNS
import Providers

/// The DNS half of DNS-01: finds where each challenge record goes, presents all of them grouped
/// per provider and zone, waits once until every authoritative nameserver serves every value,
/// and removes exactly what it added. Used by `issue`, `run`, `check` and the certbot hooks.
public final class ChallengeDeployer: Sendable {
    public let config: Configuration
    let zoneFinder: ZoneFinder
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
        zoneFinder = ZoneFinder(client: DNSClient(), resolvers: config.dns.resolvers,
                                nameserverPort: config.dns.port, overrides: config.zoneNameservers)
    }

    /// The target for one identifier ("*.example.test" and "example.test" share one).
    public func target(for identifier: String, provider preferred: String? = nil) async throws -> ChallengeTarget {
        let domain = identifier.hasPrefix("*.") ? String(identifier.dropFirst(2)) : identifier
        let challengeName = DomainName.challengeName(for: domain)
        let recordName = try await zoneFinder.followCNAMEs(challengeName)
        let zone = try await zoneFinder.zone(containing: recordName)
        guard let provider = config.provider(for: recordName, preferred: preferred) else {
            let via = recordName == challengeName ? "" : " (a CNAME of \(challengeName))"
            throw OperationError("No [[provider]] serves \(recordName)\(via) in zone \(zone): add the zone to a provider's zones.")
        }
        return ChallengeTarget(domain: domain, challengeName: challengeName, recordName: recordName,
                               zone: zone, provider: provider.name)
    }

    /// Targets for many identifiers, looked up concurrently, by identifier.
    public func targets(for identifiers: [String], provider: String? = nil) async throws -> [String: ChallengeTarget] {
        try await withThrowingTaskGroup(of: (String, ChallengeTarget).self) { group in
            for identifier in Set(identifiers) {
                group.addTask { (identifier, try await self.target(for: identifier, provider: provider)) }
            }
            var result: [String: ChallengeTarget] = [:]
            for try await (identifier, target) in group { result[identifier] = target }
            return result
        }
    }

    /// Presents every record: one provider call per (provider, zone), all calls concurrently.
    /// Throws the first failure after every call has finished, so the caller's cleanup sees a
    /// settled state.
    public func present(_ records: [ChallengeRecord]) async throws {
        let errors = await forEachGroup(of: records, verb: "presented") { provider, zone, txt in
            try await provider.present(txt, zone: zone)
        }
        if let first = errors.first { throw first }
    }

    /// Removes every record; returns the failures (cleanup must go on past one).
    @discardableResult
    public func cleanup(_ records: [ChallengeRecord]) async -> [any Error] {
        let errors = await forEachGroup(of: records, verb: "removed") { provider, zone, txt in
            try await provider.cleanup(txt, zone: zone)
        }
        for failure in errors { events(.warning("cleanup failed: \(describe(failure))")) }
        return errors
    }

    /// Waits until every authoritative nameserver of every record's zone serves all of the
    /// record's values (and the resolvers too with `also_check_resolvers`).
    public func waitUntilVisible(_ records: [ChallengeRecord], timeout: Duration? = nil) async throws {
        let deadline = ContinuousClock.now + (timeout ?? config.dns.propagationTimeout)
        var valuesByName: [String: (zone: String, values: Set<String>)] = [:]
        for record in records {
            valuesByName[record.target.recordName, default: (record.target.zone, [])].values.insert(record.value)
        }
        var checks: [PropagationCheck] = []
        for (name, entry) in valuesByName.sorted(by: { $0.key < $1.key }) {
            var servers = try await zoneFinder.nameservers(of: entry.zone)
            if config.dns.alsoCheckResolvers {
                servers += config.dns.resolvers.map { Nameserver(name: "resolver", address: $0) }
            }
            checks.append(PropagationCheck(name: name, values: entry.values, nameservers: servers))
        }
        guard !checks.isEmpty else { return }
        let serverCount = Set(checks.flatMap { $0.nameservers }).count
        events(.step("waiting for \(records.count) value(s) at \(checks.count) name(s) on \(serverCount) nameserver address(es)"))
        let start = ContinuousClock.now
        let waiter = PropagationWaiter(pollInterval: config.dns.pollInterval)
        let sink = events
        try await waiter.wait(for: checks, deadline: deadline) { sink(.propagation($0)) }
        events(.step("all values visible at every nameserver after \(format(ContinuousClock.now - start))"))
    }

    /// Runs `body` once per (provider, zone) group, all groups concurrently; returns the failures.
    private func forEachGroup(
        of records: [ChallengeRecord], verb: String,
        _ body: @escaping @Sendable (any DNSProvider, String, [TXTRecord]) async throws -> Void
    ) async -> [any Error] {
        var groups: [GroupKey: [TXTRecord]] = [:]
        for record in records {
            let key = GroupKey(provider: record.target.provider, zone: record.target.zone)
            let txt = TXTRecord(name: record.target.recordName, value: record.value)
            if !(groups[key]?.contains(txt) ?? false) { groups[key, default: []].append(txt) }
        }
        let providers = config.providers
        let sink = events
        return await withTaskGroup(of: (any Error)?.self) { group in
            for (key, txt) in groups {
                guard let provider = providers.first(where: { $0.name == key.provider }) else { continue }
                group.addTask {
                    do {
                        try await body(provider, key.zone, txt)
                        sink(.step("\(verb) \(txt.count) record(s) in \(key.zone) via \(provider.label)"))
                        return nil
                    } catch {
                        return error
                    }
                }
            }
            var errors: [any Error] = []
            for await error in group { if let error { errors.append(error) } }
            return errors
        }
    }

    private struct GroupKey: Hashable { var provider: String; var zone: String }
}

func format(_ duration: Duration) -> String {
    let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    return String(format: "%.2fs", seconds)
}
