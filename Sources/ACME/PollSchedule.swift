import Clocks

/// The waits between polls of a pending authorization or an unfinished order (RFC 8555 §7.5.1,
/// §7.4): the CA's Retry-After when it sends one (at least 50 ms, at most 10 s), else a back-off
/// from 100 ms growing ×1.5 up to 2 s; never past the deadline, at which the next wait throws
/// `ACMEError(.timeout)`. Time is the injected clock's, so tests poll minutes in milliseconds.
struct PollSchedule {
    static let firstBackoff = Duration.milliseconds(100)
    static let longestBackoff = Duration.seconds(2)
    static let shortestRetryAfter = Duration.milliseconds(50)
    static let longestRetryAfter = Duration.seconds(10)

    let clock: any DeadlineClock
    let deadline: ContinuousClock.Instant
    private var backoff = Self.firstBackoff

    init(clock: any DeadlineClock, deadline: ContinuousClock.Instant) {
        self.clock = clock
        self.deadline = deadline
    }

    /// Sleeps until the next poll; `what` ends "Timed out waiting for …" ("the CA to validate a.test").
    mutating func wait(retryAfter: Duration?, what: String) async throws {
        let now = clock.now
        guard now < deadline else {
            throw ACMEError(.timeout, "Timed out waiting for \(what).")
        }
        let delay = retryAfter.map { min(max($0, Self.shortestRetryAfter), Self.longestRetryAfter) } ?? backoff
        backoff = min(backoff * 1.5, Self.longestBackoff)
        try await clock.sleep(until: min(now + delay, deadline))
    }
}
