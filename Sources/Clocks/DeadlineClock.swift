/// The time source of every wait with a deadline (CA polling, propagation rounds, back-off):
/// injected so the issuance flow runs in tests in milliseconds on a `ManualClock`, while the
/// program uses `SystemClock`. Instants are `ContinuousClock.Instant`s, so deadlines computed
/// against either clock compare with each other (STYLE.md 14).
public protocol DeadlineClock: Sendable {
    var now: ContinuousClock.Instant { get }
    /// Suspends until `deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: ContinuousClock.Instant) async throws
}

extension DeadlineClock {
    public func sleep(for duration: Duration) async throws {
        try await sleep(until: now + duration)
    }
}

/// The real monotonic clock.
public struct SystemClock: DeadlineClock {
    public init() {}
    public var now: ContinuousClock.Instant { ContinuousClock.now }
    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try await Task.sleep(until: deadline, clock: .continuous)
    }
}
