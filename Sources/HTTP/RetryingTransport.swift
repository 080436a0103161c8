import Clocks
import FoundationEssentials
import Glibc

/// Sends through another transport and, on HTTP 429 or a 5xx answer (or no answer at all), tries
/// again after the server's Retry-After (RFC 9110 §10.2.3) or an exponential back-off, a bounded
/// number of times and never past a deadline. The last answer (or error) is the caller's to
/// judge. The budget counts the attempts as well as the waits between them: each attempt gets
/// what is left of it as its timeout (`HTTPRequest.timeout`), and no attempt starts once it is
/// spent. Time comes from the injected clock, so tests need no real sleep.
public struct RetryingTransport: HTTPTransport {
    public let base: any HTTPTransport
    /// Attempts in all, the first included.
    public let attempts: Int
    /// The longest single wait; a longer Retry-After ends the retries at once.
    public let longestWait: Duration
    /// How long all attempts together may take, the waits between them included.
    public let budget: Duration
    let clock: any DeadlineClock

    public init(_ base: any HTTPTransport, attempts: Int = 5, longestWait: Duration = .seconds(30), budget: Duration = .seconds(120),
                clock: any DeadlineClock = SystemClock()) {
        self.base = base
        self.attempts = max(1, attempts)
        self.longestWait = longestWait
        self.budget = budget
        self.clock = clock
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let deadline = clock.now + budget
        var backoff = Duration.milliseconds(500)
        var attempt = 1
        while true {
            var bounded = request
            let left = deadline - clock.now
            bounded.timeout = min(request.timeout ?? left, left)
            let outcome: Result<HTTPResponse, any Error>
            do {
                outcome = .success(try await base.send(bounded))
            } catch let error as HTTPError where error.code == .network || error.code == .timeout {
                outcome = .failure(error)
            }
            let wait: Duration
            switch outcome {
            case .success(let response) where response.status == 429 || (500...599).contains(response.status):
                wait = RetryAfter.parse(response.header("Retry-After")) ?? backoff
            case .success(let response):
                return response
            case .failure:
                wait = backoff
            }
            // Another attempt only when it would start before the deadline.
            let next = clock.now + wait
            guard attempt < attempts, wait <= longestWait, next < deadline else { return try outcome.get() }
            try await clock.sleep(until: next)
            backoff = min(backoff * 2, .seconds(8))
            attempt += 1
        }
    }
}
