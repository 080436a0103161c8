import FoundationEssentials
import Glibc

/// What `dns01 run` remembers about one certificate between runs: when it last tried, last
/// succeeded and last failed, the failure's sentence and how many attempts in a row failed.
/// Stored by `RunHistoryStore` as JSON (ISO 8601 times) for `dns01 certificates` and metrics.
///
/// It also decides the back-off: after a failure, a run does not try the certificate again
/// until `retryAt`, so a broken DNS setup does not use up the CA's failed-validation limit
/// (Let's Encrypt: 5 per hostname per hour) on every timer run; and once a streak of failures
/// has lasted `give_up_after`, it gives up (`retry(at:giveUpAfter:)`) until `--force` or a success.
///
/// Fields added later are optional, so files written by earlier versions still read.
public struct RunHistory: Sendable, Codable, Equatable {
    public var lastAttempt: Date?
    public var lastSuccess: Date?
    public var lastFailure: Date?
    /// The last failure's sentence (cut at `errorLimit` characters).
    public var lastError: String?
    public var consecutiveFailures: Int
    /// The first failure of the current streak (nil without one, or in a file from before this
    /// field: `lastFailure` then stands in for it).
    public var firstFailure: Date?
    /// Until when the CA refused new orders for it (`rateLimited`, RFC 8555 §6.6), and its
    /// sentence (`rateLimitMessage`). Not a failure: the streak and its back-off stay as they were,
    /// so the certificate is tried again at this time, not later.
    public var rateLimitedUntil: Date?
    public var rateLimitMessage: String?

    public init(lastAttempt: Date? = nil, lastSuccess: Date? = nil, lastFailure: Date? = nil, lastError: String? = nil,
                consecutiveFailures: Int = 0, firstFailure: Date? = nil) {
        self.lastAttempt = lastAttempt
        self.lastSuccess = lastSuccess
        self.lastFailure = lastFailure
        self.lastError = lastError
        self.consecutiveFailures = consecutiveFailures
        self.firstFailure = firstFailure
    }

    /// The longest error kept: a hook's output or a CA's detail must not grow the file unbounded.
    static let errorLimit = 1000
    /// Wait after the first failure; doubled after each further one, up to `longestBackoff`.
    static let firstBackoff: TimeInterval = 3600
    static let longestBackoff: TimeInterval = 86400

    public mutating func recordSuccess(at now: Date) {
        lastAttempt = now
        lastSuccess = now
        rateLimitedUntil = nil
        rateLimitMessage = nil
        resetStreak()
    }

    /// The CA answered `rateLimited` until `until`: an attempt, not a failure.
    public mutating func recordRateLimit(until: Date, message: String, at now: Date) {
        lastAttempt = now
        rateLimitedUntil = until
        rateLimitMessage = message.count > Self.errorLimit ? String(message.prefix(Self.errorLimit)) + "…" : message
    }

    /// The CA's refusal that still holds at `now`, if any.
    public func rateLimit(at now: Date) -> RateLimit? {
        guard let rateLimitedUntil, now < rateLimitedUntil else { return nil }
        return RateLimit(until: rateLimitedUntil, names: [], message: rateLimitMessage ?? "the CA answered rateLimited")
    }

    public mutating func recordFailure(_ message: String, at now: Date) {
        if consecutiveFailures <= 0 {
            firstFailure = now
        } else if firstFailure == nil {
            firstFailure = lastFailure ?? now
        }
        lastAttempt = now
        lastFailure = now
        lastError = message.count > Self.errorLimit ? String(message.prefix(Self.errorLimit)) + "…" : message
        consecutiveFailures = consecutiveFailures < Int.max ? max(0, consecutiveFailures) + 1 : Int.max
    }

    /// How long to wait after `failures` failed attempts in a row: 1 h, 2 h, 4 h, … at most 24 h.
    static func backoff(afterFailures failures: Int) -> TimeInterval {
        guard failures > 0 else { return 0 }
        // The exponent is capped before it is used: a count read from a file may be anything.
        return min(firstBackoff * pow(2, Double(min(failures - 1, 16))), longestBackoff)
    }

    /// When the next attempt may start; nil when the last attempt did not fail.
    public var retryAt: Date? {
        guard consecutiveFailures > 0, let lastFailure else { return nil }
        return lastFailure.addingTimeInterval(Self.backoff(afterFailures: consecutiveFailures))
    }

    /// True when a run at `now` should leave the certificate alone (unless forced).
    public func isBackingOff(at now: Date) -> Bool {
        guard let retryAt else { return false }
        return now < retryAt
    }

    /// Forgets the current streak of failures (`dns01 run --force`, a success): the next
    /// failure starts a new one. The last failure's time and sentence stay, as history.
    public mutating func resetStreak() {
        consecutiveFailures = 0
        firstFailure = nil
    }

    /// What a run does with a due certificate.
    public enum Retry: Sendable, Equatable {
        /// Try it now: no failure streak, or its back-off has passed.
        case now
        /// Leave it until `until` (the back-off after the last failure).
        case backingOff(until: Date)
        /// Leave it until `--force` or a success elsewhere: the streak that began at `since` has
        /// lasted `give_up_after`.
        case givenUp(since: Date)
    }

    /// The back-off decides until the streak has lasted `giveUpAfter`: the last retry is due no
    /// later than `giveUpAfter` after the streak's first failure, and a failure at or past that
    /// moment gives up. Decided from the stored times alone, so the answer does not change while
    /// nobody runs, and a run after a long pause (a machine that was off) still gets one retry.
    /// `--force` is the caller's: it resets the streak before asking.
    public func retry(at now: Date, giveUpAfter: TimeInterval) -> Retry {
        guard consecutiveFailures > 0, let lastFailure else { return .now }
        let start = min(firstFailure ?? lastFailure, lastFailure)
        let limit = start.addingTimeInterval(max(0, giveUpAfter))
        if lastFailure >= limit { return .givenUp(since: start) }
        let retryAt = min(lastFailure.addingTimeInterval(Self.backoff(afterFailures: consecutiveFailures)), limit)
        return now < retryAt ? .backingOff(until: retryAt) : .now
    }
}
