import Blocking
import Clocks
import FoundationEssentials
import Glibc
import Storage
import Synchronization

/// `dns01 sync`: brings this machine's live/ up to date with the fleet's database. One query
/// asks for the live version of every configured certificate that differs from the one here;
/// each that does goes through `CertificateStore.install` (checked like the CA's chain: its key,
/// the configured names, the chain's order, not expired; written into archive/ under its
/// number and made live, keys 0600; its deploy hook run). Nothing changed: one query, no
/// write, no hook. `dns01 run` does the same first on an issuing machine.
///
/// A version that cannot be read (its sealed key does not open) or fails the check is
/// reported once per run, naming the certificate and version, and skipped; the others are
/// installed all the same.
public struct FleetSync: Sendable {
    public struct Item: Sendable, Codable {
        public var name: String
        public var version: Int
        public var notAfter: Date
        public var deployHookError: String?
    }

    /// A live version of the database that was not installed, and why.
    public struct Failure: Sendable, Codable, Equatable {
        public var name: String
        public var version: Int?
        public var error: String

        /// "web version 3".
        public var label: String { version.map { "\(name) version \($0)" } ?? name }
    }

    public struct Summary: Sendable, Codable {
        /// The certificates whose live version changed here.
        public var updated: [Item]
        /// Configured certificates the database has no version of yet.
        public var missing: [String]
        /// Live versions not installed (unreadable, or refused by the check).
        public var failed: [Failure] = []
        /// Queries this sync sent (1 when nothing changed).
        public var queries: Int
        public var seconds: Double
    }

    /// What the query found, before anything is installed (`changes`, then `apply`).
    struct Pending: Sendable {
        var specs: [Configuration.CertificateSpec]
        var known: [(name: String, version: Int?)]
        var changes: LiveChanges
        var queries: Int
        var start: ContinuousClock.Instant
    }

    let config: Configuration
    let fleet: FleetDatabase
    let events: EventSink
    /// The failures already reported: `dns01 run` syncs twice, and says each once.
    private let reported: Reported

    final class Reported: Sendable {
        let labels = Mutex<Set<String>>([])
        /// True the first time `label` is seen.
        func first(_ label: String) -> Bool { labels.withLock { $0.insert(label).inserted } }
    }

    public init(config: Configuration, fleet: FleetDatabase, events: @escaping EventSink) {
        self.init(config: config, fleet: fleet, events: events, reported: Reported())
    }

    init(config: Configuration, fleet: FleetDatabase, events: @escaping EventSink, reported: Reported) {
        self.config = config
        self.fleet = fleet
        self.events = events
        self.reported = reported
    }

    /// Syncs `names` (every [[certificate]] when nil).
    public func run(names: [String]? = nil) async throws -> Summary {
        try await apply(try await changes(names: names))
    }

    /// The one query: the live versions of `names` that differ from this machine's.
    func changes(names: [String]? = nil) async throws -> Pending {
        let start = ContinuousClock.now
        let specs = config.certificates.filter { names?.contains($0.name) ?? true }
        let store = CertificateStore(stateDir: config.acme.stateDir)
        let known = specs.map { (name: $0.name, version: store.liveVersionNumber($0.name)) }
        let fleet = self.fleet
        let before = fleet.connection.queryCount
        let changes = try await BlockingPool.shared.run { try fleet.changedLiveVersions(known: known) }
        return Pending(specs: specs, known: known, changes: changes, queries: fleet.connection.queryCount - before, start: start)
    }

    /// Installs what `changes` found, each version on its own: one that fails is reported and
    /// skipped. A version another process of this machine installed meanwhile is left alone.
    func apply(_ pending: Pending) async throws -> Summary {
        let store = CertificateStore(stateDir: config.acme.stateDir)
        let server = fleet.connection.serverName
        var updated: [Item] = []
        var failed: [Failure] = []
        for unreadable in pending.changes.unreadable {
            failed.append(Failure(name: unreadable.name, version: unreadable.version, error: unreadable.error.description))
        }
        for version in pending.changes.versions {
            guard let spec = pending.specs.first(where: { $0.name == version.name }) else { continue }
            let seen = pending.known.first { $0.name == version.name }?.version
            do {
                let installed = try await store.install(
                    CertificateStore.Candidate(version, names: spec.domains, seen: seen, server: server),
                    deployHook: spec.deployHook.map { DeployHook(command: $0, config: config) }, events: events
                ) { _ in "\(version.name): version \(version.version) from the fleet's database is live" }
                guard installed.changed else {
                    let now = store.liveVersionNumber(version.name)
                    events(.step(now == version.version
                        ? "\(version.name): version \(version.version) was made live here by another dns01 process meanwhile"
                        : "\(version.name): another dns01 process of this machine installed version \(now.map(String.init) ?? "none") meanwhile; version \(version.version) left out"))
                    continue
                }
                updated.append(Item(name: version.name, version: version.version, notAfter: installed.notAfter,
                                    deployHookError: installed.deployHookError))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                failed.append(Failure(name: version.name, version: version.version, error: describe(error)))
            }
        }
        for failure in failed where reported.first(failure.label) {
            events(.warning("\(failure.label) from the fleet's database was not installed: \(failure.error)"))
        }
        let seen = Set(pending.changes.versions.map(\.name) + pending.changes.unreadable.map(\.name))
        let missing = pending.known.filter { $0.version == nil && !seen.contains($0.name) }.map(\.name)
        return Summary(updated: updated, missing: missing, failed: failed, queries: pending.queries,
                       seconds: (ContinuousClock.now - pending.start).inSeconds)
    }
}
