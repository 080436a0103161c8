import Blocking
import Foundation
import Storage

/// The fleet's per-certificate locks: PostgreSQL advisory locks held by this process's database
/// session for the whole issuance. A machine that dies drops its connection and its locks with
/// it, so another machine can take the certificate over; a live holder is named to whoever is
/// refused.
struct FleetLocks: Sendable {
    struct Outcome: Sendable {
        /// The certificates this session now holds.
        var locked: [String] = []
        /// Why each of the others was not taken: one sentence naming the holder.
        var refusals: [String: String] = [:]
    }

    let fleet: FleetDatabase

    init(_ fleet: FleetDatabase) { self.fleet = fleet }

    /// Takes each certificate's lock; a taken one is skipped, or waited for up to `waitSeconds`
    /// (`--wait-lock`).
    func acquire(_ names: [String], waitSeconds: Int?) async throws -> Outcome {
        let fleet = self.fleet
        return try await BlockingPool.shared.run {
            var outcome = Outcome()
            for name in names {
                let locked = try waitSeconds.map { try fleet.lockCertificate(name, waitingAtMost: $0) } ?? fleet.tryLockCertificate(name)
                if locked {
                    outcome.locked.append(name)
                    continue
                }
                let holder = (try? fleet.certificateLockHolder(name)).flatMap { $0 } ?? "another machine"
                let waited = waitSeconds.map { "after waiting \($0) s" } ?? "(`dns01 run --wait-lock` waits for it)"
                outcome.refusals[name] = "\(name) is being worked on by \(holder); skipped \(waited)."
            }
            return outcome
        }
    }

    /// Gives the locks back (closing the connection would too).
    func release(_ names: [String]) async {
        let fleet = self.fleet
        _ = try? await BlockingPool.shared.run {
            for name in names { try fleet.unlockCertificate(name) }
        }
    }
}
