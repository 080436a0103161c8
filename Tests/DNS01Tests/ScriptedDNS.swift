import Clocks
import DNS
@testable import DNS01
import Synchronization

/// The DNS side of issuance for the state machine's unit tests (the integration tests use the
/// real `ChallengeDeployer` against BIND): targets derived from the names, writes recorded,
/// names that become visible after a given number of polling rounds (or never: the wait then
/// times out on the injected clock), and standing dns-persist-01 records by identifier.
final class ScriptedDNS: ChallengeDNS {
    struct State {
        var presented: [ChallengeRecord] = []
        var cleaned: [ChallengeRecord] = []
        var presentCalls = 0
        var rounds = 0
    }
    let state = Mutex(State())
    /// Polling rounds after which a record name is visible; names not listed: after the first.
    let visibleAfter: [String: Int]
    /// Record names that never become visible.
    let neverVisible: Set<String>
    /// Zones whose provider refuses every write.
    let failingZones: Set<String>
    /// Identifiers with a dns-persist-01 record that authorizes the account.
    let persisted: Set<String>
    let clock: any DeadlineClock
    let pollInterval: Duration
    let timeout: Duration

    init(clock: any DeadlineClock, visibleAfter: [String: Int] = [:], neverVisible: Set<String> = [], failingZones: Set<String> = [],
         persisted: Set<String> = [], pollInterval: Duration = .seconds(1), timeout: Duration = .seconds(60)) {
        self.clock = clock
        self.visibleAfter = visibleAfter
        self.neverVisible = neverVisible
        self.failingZones = failingZones
        self.persisted = persisted
        self.pollInterval = pollInterval
        self.timeout = timeout
    }

    var presented: [ChallengeRecord] { state.withLock { $0.presented } }
    var cleaned: [ChallengeRecord] { state.withLock { $0.cleaned } }
    var rounds: Int { state.withLock { $0.rounds } }

    /// The zone of a name: its last two labels.
    static func zone(of name: String) -> String { name.split(separator: ".").suffix(2).joined(separator: ".") }

    func targets(for identifiers: [String], providers: [String], accountLabel: String?) async throws -> [String: ChallengeTarget] {
        var result: [String: ChallengeTarget] = [:]
        for identifier in identifiers {
            let domain = identifier.hasPrefix("*.") ? String(identifier.dropFirst(2)) : identifier
            let name = (accountLabel.map { $0 + "." } ?? "") + "_acme-challenge." + domain
            result[identifier] = ChallengeTarget(domain: domain, challengeName: name, recordName: name, zone: Self.zone(of: domain),
                                                 provider: providers.first ?? "scripted")
        }
        return result
    }

    func presentEach(_ records: [ChallengeRecord]) async throws -> [ChallengeDeployer.Outcome] {
        state.withLock { $0.presentCalls += 1 }
        var byZone: [String: [ChallengeRecord]] = [:]
        for record in records { byZone[record.target.zone, default: []].append(record) }
        return byZone.map { zone, members in
            if failingZones.contains(zone) {
                return ChallengeDeployer.Outcome(records: members, error: OperationError("The scripted provider refused the records in \(zone)."))
            }
            state.withLock { $0.presented += members }
            return ChallengeDeployer.Outcome(records: members, error: nil)
        }
    }

    func cleanup(_ records: [ChallengeRecord]) async -> [any Error] {
        state.withLock { $0.cleaned += records }
        return []
    }

    func visibility(of records: [ChallengeRecord], timeout: Duration?) async throws -> AsyncThrowingStream<PropagationRound, any Error> {
        let names = Set(records.map(\.target.recordName))
        let deadline = clock.now + (timeout ?? self.timeout)
        let (stream, continuation) = AsyncThrowingStream<PropagationRound, any Error>.makeStream()
        let task = Task {
            var waiting = names
            var round = 0
            while !waiting.isEmpty {
                round += 1
                state.withLock { $0.rounds += 1 }
                let visible = waiting.filter { !neverVisible.contains($0) && round >= (visibleAfter[$0] ?? 1) }
                waiting.subtract(visible)
                continuation.yield(PropagationRound(visible: visible, satisfiedPairs: [], pending: [], satisfied: names.count - waiting.count,
                                                    total: names.count))
                if waiting.isEmpty { break }
                if clock.now >= deadline {
                    continuation.finish(throwing: DNSError(.propagationTimeout, "Timed out waiting for \(waiting.sorted().joined(separator: ", ")).",
                                                           name: waiting.sorted().first))
                    return
                }
                do { try await clock.sleep(until: min(clock.now + pollInterval, deadline)) } catch {
                    continuation.finish(throwing: error)
                    return
                }
            }
            continuation.finish()
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    func persistRecordServed(identifier: String, wildcard: Bool, issuerNames: [String], accountURL: String) async -> Bool {
        persisted.contains(identifier)
    }
}
