import Clocks
import HTTP
import ScriptedHTTP
import Testing

/// Item 5 of "Trust, round two": the retry budget counts the attempts, not only the waits.
@Suite struct RetryingTransportTests {
    static let url = "https://api.test/zones"

    /// An API that never answers: every attempt takes the whole timeout it is given (the
    /// scripted transport moves the clock by it) and fails as curl's timeout does.
    static func silent(_ clock: ManualClock) -> ScriptedTransport {
        let transport = ScriptedTransport(issuesNonces: false)
        transport.on("GET", url) { request in
            clock.advance(by: min(request.timeout ?? .seconds(30), .seconds(30)))
            throw HTTPError(.timeout, "Cannot reach the API at api.test: Timeout was reached.", host: "api.test")
        }
        return transport
    }

    @Test(arguments: [Duration.seconds(20), .seconds(120), .seconds(3)])
    func anAPIThatNeverAnswersTakesNoLongerThanTheBudget(_ budget: Duration) async throws {
        let clock = ManualClock()
        let transport = Self.silent(clock)
        let retrying = RetryingTransport(transport, budget: budget, clock: clock)
        await #expect(throws: HTTPError.self) { try await retrying.send(HTTPRequest(method: "GET", url: Self.url)) }
        #expect(clock.elapsed <= budget, "took \(clock.elapsed) of a \(budget) budget")
        let requests = transport.requests
        #expect(!requests.isEmpty)
        // Each attempt was given at most what was left of the budget.
        #expect(requests.allSatisfy { ($0.timeout ?? .seconds(1000)) <= budget }, "\(requests.map(\.timeout))")
        #expect(requests.first?.timeout == budget)
    }

    /// The caller's own, shorter timeout stays; the budget only ever shortens it.
    @Test func aShorterTimeoutOfTheRequestStays() async throws {
        let clock = ManualClock()
        let transport = Self.silent(clock)
        let retrying = RetryingTransport(transport, attempts: 3, budget: .seconds(20), clock: clock)
        await #expect(throws: HTTPError.self) {
            try await retrying.send(HTTPRequest(method: "GET", url: Self.url, timeout: .seconds(5)))
        }
        // 5 s, 0.5 s wait, 5 s, 1 s wait, then only 8.5 s of the 20 were left: 5 s again.
        #expect(transport.requests.map(\.timeout) == [.seconds(5), .seconds(5), .seconds(5)])
        #expect(clock.elapsed == .milliseconds(16_500))
    }

    /// A busy API's Retry-After is honoured while the budget lasts; the wait that would end
    /// past it is not started, and the last answer is returned.
    @Test func retryAfterWithinTheBudget() async throws {
        let clock = ManualClock()
        let transport = ScriptedTransport(issuesNonces: false)
        transport.on("GET", Self.url) { _ in
            clock.advance(by: .seconds(2))
            return .empty(status: 503, headers: ["Retry-After": "5"])
        }
        let retrying = RetryingTransport(transport, budget: .seconds(12), clock: clock)
        let response = try await retrying.send(HTTPRequest(method: "GET", url: Self.url))
        #expect(response.status == 503)
        // 2 s, wait 5, 2 s (9 s), then a 5 s wait would end at 14 s: no third attempt.
        #expect(transport.requests.count == 2)
        #expect(transport.requests.map(\.timeout) == [.seconds(12), .seconds(5)])
        #expect(clock.elapsed == .seconds(9))
    }
}
