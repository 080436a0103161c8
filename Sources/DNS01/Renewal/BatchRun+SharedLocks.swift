import Blocking
import Clocks
import FoundationEssentials
import Glibc

extension BatchRun {
    /// Takes the shared lock of every certificate still pending. One another machine holds is
    /// skipped, saying who holds it (or waited for, with `waitLock`). For the ones taken, the
    /// shared live versions are synced once more: a certificate another issuer renewed between
    /// this run's first sync and its lock is decided again, and usually no longer due.
    func lockShared(_ state: any StateStore, items: inout [Item], force: Bool, waitLock: Int?,
                    notInstalled: inout [String: FleetSync.Failure]) async throws {
        let pending = items.indices.filter { items[$0].status == .pending }
        guard !pending.isEmpty else { return }
        let outcome = try await state.lockShared(pending.map { items[$0].name }, waitSeconds: waitLock)
        for index in pending {
            guard let refusal = outcome.refusals[items[index].name] else { continue }
            items[index].lockedElsewhere(refusal)
            events(.step(refusal))
        }
        guard let synced = try await state.syncLive(outcome.locked, config: config, events: events) else { return }
        Self.note(synced, in: &notInstalled)
        let renewed = synced.updated.map(\.name)
        guard !renewed.isEmpty else { return }
        let again = RenewalPlan.decide(config, force: force)
        for index in pending where renewed.contains(items[index].name) {
            guard let decision = again.first(where: { $0.spec.name == items[index].name }), decision.reason == nil else { continue }
            items[index].renewedElsewhere(notAfter: decision.notAfter)
            events(.step("\(items[index].name): renewed by another machine meanwhile; not due"))
        }
    }
}

extension Configuration {
    /// How long `dns01 run --wait-lock` waits for another machine's lock: as long as that
    /// machine's issuance may take (its order and propagation deadlines), plus a minute.
    public var fleetLockWait: Int {
        Int(acme.orderTimeout.inSeconds + dns.propagationTimeout.inSeconds) + 60
    }
}
