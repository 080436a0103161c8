import Foundation

/// What `dns01 run` remembers about one certificate between runs: when it last tried, last
/// succeeded and last failed, the failure's sentence and how many attempts in a row failed.
/// Stored by `RunHistoryStore` as JSON (ISO 8601 times) for `dns01 certificates` and metrics.
///
/// It also decides the back-off: after a failure, a run does not try the certificate again
/// until `retryAt`, so a broken DNS setup does not use up the CA's failed-validation limit
/// (Let's Encrypt: 5 per hostname per hour) on every timer run.
public struct RunHistory: Sendable, Codable, Equatable {
    public var lastAttempt: Date?
    public var lastSuccess: Date?
    public var lastFailure: Date?
    /// The last failure's sentence (cut at `errorLimit` characters).
    public var lastError: String?
    public var consecutiveFailures: Int

    public init(lastAttempt: Date? = nil, lastSuccess: Date? = nil, lastFailure: Date? = nil, lastError: String? = nil,
                consecutiveFailures: Int = 0) {
        self.lastAttempt = lastAttempt
        self.lastSuccess = lastSuccess
        self.lastFailure = lastFailure
        self.lastError = lastError
        self.consecutiveFailures = consecutiveFailures
    }

    /// The longest error kept: a hook's output or a CA's detail must not grow the file unbounded.
    static let errorLimit = 1000
    /// Wait after the first failure; doubled after each further one, up to `longestBackoff`.
    static let firstBackoff: TimeInterval = 3600
    static let longestBackoff: TimeInterval = 86400

    public mutating func recordSuccess(at now: Date) {
        lastAttempt = now
        lastSuccess = now
        consecutiveFailures = 0
    }

    public mutating func recordFailure(_ message: String, at now: Date) {
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
}
