import Blocking
import Files
import Foundation
import Storage

/// Run history shared through the fleet's database: pulled into this machine's history/ before
/// a run decides what to retry, pushed after it recorded its outcomes.
struct FleetHistory: Sendable {
    let config: Configuration
    let fleet: FleetDatabase

    /// Replaces the local history of each of `names` that the database has one of.
    func pull(_ names: [String]) async throws {
        let fleet = self.fleet, store = RunHistoryStore(stateDir: config.acme.stateDir)
        try await BlockingPool.shared.run {
            for (name, json) in try fleet.histories(names) {
                guard let history = try? RunHistoryStore.decoder.decode(RunHistory.self, from: Data(json.utf8)) else { continue }
                try store.write(history, for: name)
            }
        }
    }

    /// Copies the local history of each of `names` into the database.
    func push(_ names: [String]) async throws {
        let fleet = self.fleet, store = RunHistoryStore(stateDir: config.acme.stateDir)
        try await BlockingPool.shared.run {
            for name in names where FileSystem.exists(store.path(name)) {
                let json = String(decoding: try RunHistoryStore.encoder.encode(store.read(name)), as: UTF8.self)
                try fleet.putHistory(json, for: name)
            }
        }
    }
}
