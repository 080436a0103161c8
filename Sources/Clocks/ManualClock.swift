import Synchronization

/// A clock for tests whose time moves only when something sleeps: a sleep moves the time to its
/// deadline at once (never backwards) and returns after a yield, so a flow that polls for
/// minutes of simulated time finishes in milliseconds and can be asserted on
/// (`elapsed`, `sleeps`). Like swift-clocks' `ImmediateClock`, with instants that compare with
/// real deadlines.
public final class ManualClock: DeadlineClock {
    private struct State {
        var now: ContinuousClock.Instant
        var sleeps = 0
    }
    private let state: Mutex<State>
    private let start: ContinuousClock.Instant

    public init(now: ContinuousClock.Instant = ContinuousClock.now) {
        start = now
        state = Mutex(State(now: now))
    }

    public var now: ContinuousClock.Instant { state.withLock { $0.now } }
    /// Simulated time since the clock was made.
    public var elapsed: Duration { now - start }
    /// How many sleeps were asked for.
    public var sleeps: Int { state.withLock { $0.sleeps } }

    public func sleep(until deadline: ContinuousClock.Instant) async throws {
        try Task.checkCancellation()
        state.withLock { state in
            state.sleeps += 1
            state.now = max(state.now, deadline)
        }
        await Task.yield()
        try Task.checkCancellation()
    }

    /// Moves the time forward by hand (a test that checks what happens once a deadline passed).
    public func advance(by duration: Duration) {
        state.withLock { $0.now = $0.now + duration }
    }
}
