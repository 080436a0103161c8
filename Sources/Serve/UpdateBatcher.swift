import Blocking
import Clocks
import DNS
import Providers
import Storage
import Synchronization

/// Turns concurrent `/update` calls for the registrations' zone into one provider write: the
/// first update of a batch waits `window` for others, then every value of the batch is
/// presented in one `present` call (and the values each registration no longer keeps removed
/// in one `cleanup`), and each caller is answered the moment its name is served by every
/// authoritative address of the zone (the core's propagation waiter), or fails at `timeout`.
/// Batches run one after another, so two updates of one registration keep their order.
public actor UpdateBatcher {
    public struct Failure: Error, Sendable {
        public enum Kind: Sendable { case provider, propagation, storage }
        public var kind: Kind
        /// One sentence for the log (secrets redacted by the caller).
        public var message: String
    }

    struct Pending {
        var username: String
        var value: String
        var continuation: CheckedContinuation<Void, any Error>
    }

    let provider: any DNSProvider
    let registrationZone: String
    let store: any AcmeDNSRegistrationStore
    let zoneFinder: ZoneFinder
    let window: Duration
    let timeout: Duration
    let pollInterval: Duration
    let clock: any DeadlineClock
    let counters: ServeCounters
    private var pending: [Pending] = []
    private var draining = false
    /// The DNS zone (SOA) that holds the registrations' zone, found once.
    private var dnsZone: String?

    public init(provider: any DNSProvider, registrationZone: String, store: any AcmeDNSRegistrationStore, zoneFinder: ZoneFinder,
                window: Duration, timeout: Duration, pollInterval: Duration, clock: any DeadlineClock = SystemClock(),
                counters: ServeCounters) {
        self.provider = provider
        self.registrationZone = registrationZone
        self.store = store
        self.zoneFinder = zoneFinder
        self.window = window
        self.timeout = timeout
        self.pollInterval = pollInterval
        self.clock = clock
        self.counters = counters
    }

    /// Adds `value` to `username`'s registration (dropping all but the two most recent) and
    /// returns once it is served everywhere.
    public func update(username: String, value: String) async throws {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(username: username, value: value, continuation: continuation))
            if !draining {
                draining = true
                Task { await self.drain() }
            }
        }
    }

    private func drain() async {
        while true {
            try? await clock.sleep(for: window)
            let batch = pending
            pending = []
            if batch.isEmpty {
                draining = false
                return
            }
            await run(batch)
        }
    }

    private func run(_ batch: [Pending]) async {
        // The registrations as stored, then each update applied in arrival order.
        var before: [String: AcmeDNSRegistration] = [:]
        var after: [String: [String]] = [:]
        var failed: [Int: any Error] = [:]
        let store = self.store
        for (index, item) in batch.enumerated() {
            if before[item.username] == nil {
                let username = item.username
                do {
                    guard let found = try await BlockingPool.shared.run({ try store.registration(username: username) }) else {
                        failed[index] = Failure(kind: .storage, message: "registration \(username) vanished"); continue
                    }
                    before[username] = found
                    after[username] = found.values
                } catch {
                    failed[index] = Failure(kind: .storage, message: "cannot read registration \(username): \(error)"); continue
                }
            }
            var values = (after[item.username] ?? []).filter { $0 != item.value }
            values.append(item.value)
            after[item.username] = Array(values.suffix(2))
        }
        var added: [TXTRecord] = [], removed: [TXTRecord] = []
        var nameOf: [String: String] = [:]
        for (username, registration) in before {
            let name = "\(registration.subdomain).\(registrationZone)"
            nameOf[username] = name
            let old = Set(registration.values), new = Set(after[username] ?? [])
            added += new.subtracting(old).sorted().map { TXTRecord(name: name, value: $0) }
            removed += old.subtracting(new).sorted().map { TXTRecord(name: name, value: $0) }
        }
        let live = batch.indices.filter { failed[$0] == nil }
        do {
            let zone = try await self.zone()
            if !added.isEmpty {
                counters.providerWrites.add(1, ordering: .relaxed)
                try await provider.present(added, zone: zone)
            }
            if !removed.isEmpty {
                counters.providerWrites.add(1, ordering: .relaxed)
                // A stale value left behind is harmless (the CA wants the new one): log, go on.
                do { try await provider.cleanup(removed, zone: zone) } catch { counters.cleanupFailures.add(1, ordering: .relaxed) }
            }
            for (username, values) in after where before[username]?.values != values {
                try await BlockingPool.shared.run { try store.setValues(values, username: username) }
            }
        } catch {
            let failure = error as? Failure ?? Failure(kind: .provider, message: "\(provider.label) could not write \(added.count) value(s) in \(registrationZone): \(error)")
            for index in batch.indices { batch[index].continuation.resume(throwing: failed[index] ?? failure) }
            return
        }
        for (index, error) in failed { batch[index].continuation.resume(throwing: error) }
        await waitUntilServed(batch, indices: live, after: after, nameOf: nameOf)
    }

    private func waitUntilServed(_ batch: [Pending], indices: [Int], after: [String: [String]], nameOf: [String: String]) async {
        var waiting: [String: [Int]] = [:]
        for index in indices { if let name = nameOf[batch[index].username] { waiting[DomainName.canonical(name), default: []].append(index) } }
        let start = clock.now
        do {
            let zone = try await self.zone()
            let servers = try await zoneFinder.nameservers(of: zone)
            let checks = nameOf.map { username, name in
                PropagationCheck(name: name, values: Set(after[username] ?? []), nameservers: servers, zone: zone)
            }
            let waiter = PropagationWaiter(pollInterval: pollInterval, clock: clock)
            for try await round in waiter.rounds(for: checks, deadline: start + timeout) {
                for name in round.visible {
                    for index in waiting.removeValue(forKey: name) ?? [] { batch[index].continuation.resume() }
                }
            }
            counters.observePropagation(clock.now - start)
        } catch {
            let failure = Failure(kind: .propagation, message: "not served at every nameserver of \(registrationZone) within \(timeout): \(error)")
            for index in waiting.values.flatMap({ $0 }) { batch[index].continuation.resume(throwing: failure) }
            waiting = [:]
        }
        for index in waiting.values.flatMap({ $0 }) { batch[index].continuation.resume() }
    }

    private func zone() async throws -> String {
        if let dnsZone { return dnsZone }
        do {
            let found = try await zoneFinder.zone(containing: registrationZone)
            dnsZone = found
            return found
        } catch {
            throw Failure(kind: .provider, message: "cannot find the DNS zone of \(registrationZone): \(error)")
        }
    }
}

/// What `dns01 serve` counts, for its log and `/metrics`.
public final class ServeCounters: Sendable {
    public let registrations = Atomic<Int>(0)
    public let updates = Atomic<Int>(0)
    public let rejected = Atomic<Int>(0)
    public let providerWrites = Atomic<Int>(0)
    public let cleanupFailures = Atomic<Int>(0)
    /// Sum of propagation waits, in milliseconds, and how many.
    public let propagationMilliseconds = Atomic<Int>(0)
    public let propagationWaits = Atomic<Int>(0)

    public init() {}

    func observePropagation(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        propagationMilliseconds.add(Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000), ordering: .relaxed)
        propagationWaits.add(1, ordering: .relaxed)
    }
}
