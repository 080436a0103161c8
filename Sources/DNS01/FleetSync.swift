import Blocking
import Foundation
import Storage

/// `dns01 sync`: brings this machine's live/ up to date with the fleet's database. One query
/// asks for the live version of every configured certificate that differs from the one here;
/// each that does is written into archive/ under its number and made live (keys 0600), and its
/// deploy hook runs. Nothing changed: one query, no write, no hook. `dns01 run` does the same
/// first on an issuing machine.
public struct FleetSync: Sendable {
    public struct Item: Sendable, Codable {
        public var name: String
        public var version: Int
        public var notAfter: Date
        public var deployHookError: String?
    }

    public struct Summary: Sendable, Codable {
        /// The certificates whose live version changed here.
        public var updated: [Item]
        /// Configured certificates the database has no version of yet.
        public var missing: [String]
        /// Queries this sync sent (1 when nothing changed).
        public var queries: Int
        public var seconds: Double
    }

    let config: Configuration
    let fleet: FleetDatabase
    let events: EventSink

    public init(config: Configuration, fleet: FleetDatabase, events: @escaping EventSink) {
        self.config = config
        self.fleet = fleet
        self.events = events
    }

    /// Syncs `names` (every [[certificate]] when nil).
    public func run(names: [String]? = nil) async throws -> Summary {
        let start = ContinuousClock.now
        let specs = config.certificates.filter { names?.contains($0.name) ?? true }
        let store = CertificateStore(stateDir: config.acme.stateDir)
        let known = specs.map { (name: $0.name, version: store.liveVersionNumber($0.name)) }
        let fleet = self.fleet
        let before = fleet.connection.queryCount
        let changed = try await BlockingPool.shared.run { try fleet.changedLiveVersions(known: known) }
        var updated: [Item] = []
        for version in changed {
            guard let spec = specs.first(where: { $0.name == version.name }) else { continue }
            let live = try await store.install(version)
            events(.step("\(version.name): version \(version.version) from the fleet's database is live"))
            var item = Item(name: version.name, version: version.version, notAfter: version.notAfter)
            if let hook = spec.deployHook {
                item.deployHookError = await DeployHook.run(hook, certName: spec.name, live: live, domains: spec.domains,
                                                      config: config, events: events)
            }
            updated.append(item)
        }
        let missing = known.filter { $0.version == nil && !changed.map(\.name).contains($0.name) }.map(\.name)
        return Summary(updated: updated, missing: missing, queries: fleet.connection.queryCount - before,
                       seconds: seconds(ContinuousClock.now - start))
    }
}
