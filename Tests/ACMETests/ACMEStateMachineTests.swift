@testable import ACME
import Clocks
import Crypto
import Foundation
import HTTP
import ScriptedACME
import ScriptedHTTP
import Testing
import X509

/// The client's state machine against a scripted CA and a `ManualClock`: nonces, badNonce,
/// busy answers, polling and deadlines, each in milliseconds of real time with the waits
/// asserted in simulated time (STYLE.md 14).
@Suite struct ACMEStateMachineTests {
    /// A client with an account at a fresh scripted CA.
    static func client(_ options: ScriptedCA.Options = .init()) async throws -> (ACMEClient, ScriptedCA, ManualClock) {
        let ca = try ScriptedCA(options: options)
        let clock = ManualClock()
        let client = ACMEClient(directoryURL: ca.directoryURL, transport: ca.transport, accountKey: try AccountKey.generate(), clock: clock)
        _ = try await client.newAccount(contact: ["mailto:ops@a.test"], termsOfServiceAgreed: true)
        return (client, ca, clock)
    }

    static func pending(_ retryAfter: String? = nil) -> HTTPResponse {
        let body = #"{"status":"pending","identifier":{"type":"dns","value":"a.test"},"challenges":[]}"#
        return retryAfter.map { .json(body, headers: ["retry-after": $0]) } ?? .json(body)
    }

    static let valid = HTTPResponse.json(#"{"status":"valid","identifier":{"type":"dns","value":"a.test"},"challenges":[]}"#)

    // MARK: - Nonces

    /// RFC 8555 §6.5: a badNonce answer is re-signed at once with the nonce that answer
    /// carried; no wait, no extra HEAD newNonce.
    @Test func badNonceIsReSignedWithTheFreshNonce() async throws {
        let (client, ca, clock) = try await Self.client()
        ca.transport.once("POST", ca.newOrderURL, HTTPResponse.problem("badNonce", detail: "JWS has an invalid anti-replay nonce")
            .with("Replay-Nonce", "fresh-from-badNonce"))
        let order = try await client.newOrder(identifiers: [.dns("a.test")])
        #expect(order.url == ca.orderURL(1))
        let posts = ca.transport.requests("POST", ca.newOrderURL)
        #expect(posts.count == 2)
        #expect(posts[1].jws?.nonce == "fresh-from-badNonce")
        #expect(posts[0].jws?.payloadText == posts[1].jws?.payloadText)
        #expect(ca.transport.nonceFaults.isEmpty)
        #expect(ca.transport.requests("HEAD", ca.newNonceURL).count <= 1)
        #expect(clock.sleeps == 0)
    }

    /// A CA that rejects every nonce ends in one sentence naming the CA and the operation,
    /// after exactly the bound of signed attempts.
    @Test func badNonceBoundExhausted() async throws {
        let (client, ca, clock) = try await Self.client()
        ca.transport.on("POST", ca.newOrderURL, .problem("badNonce", detail: "JWS has an invalid anti-replay nonce"))
        let error = try await #require(throws: ACMEError.self) { try await client.newOrder(identifiers: [.dns("a.test"), .dns("b.test")]) }
        #expect(error.code == .problem)
        #expect(error.problem?.type == .badNonce)
        #expect(error.message == "The CA at ca.test rejected \(SignedRequestSender.nonceAttempts) nonces in a row while trying to create an order for a.test, b.test.")
        #expect(ca.transport.requests("POST", ca.newOrderURL).count == SignedRequestSender.nonceAttempts)
        #expect(ca.transport.nonceFaults.isEmpty)
        #expect(clock.sleeps == 0)
    }

    /// Nonces come from the pool fed by every answer (the directory's too): at most one HEAD
    /// newNonce for a whole flow, and every nonce used once.
    @Test func theNoncePoolFeedsEveryRequest() async throws {
        let (client, ca, _) = try await Self.client()
        for name in ["a.test", "b.test", "c.test"] {
            let order = try await client.newOrder(identifiers: [.dns(name)])
            _ = try await client.authorization(at: order.authorizations[0])
        }
        #expect(ca.transport.requests.filter { $0.method == "POST" }.count == 7)
        #expect(ca.transport.requests("HEAD", ca.newNonceURL).count <= 1)
        #expect(ca.transport.nonceFaults.isEmpty)
    }

    /// With a directory that carries no nonce: exactly one HEAD newNonce, then each request
    /// signs with the nonce the answer before it carried (§6.5), newest first.
    @Test func oneHeadNewNonceThenTheAnswersNonces() async throws {
        let transport = ScriptedTransport(issuesNonces: false)
        let directory = #"{"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o"}"#
        transport.on("GET", "https://ca.test/dir", .json(directory))
        transport.on("HEAD", "https://ca.test/n", .empty(headers: ["Replay-Nonce": "n0"]))
        let order = #"{"status":"pending","identifiers":[],"authorizations":[],"finalize":"https://ca.test/f"}"#
        transport.on("POST", "https://ca.test/o", (1...3).map { .json(order, status: 201, headers: ["Location": "https://ca.test/order/\($0)", "Replay-Nonce": "n\($0)"]) })
        // An invalid Replay-Nonce is ignored (§6.5.1), so the next request needs a HEAD again.
        transport.once("POST", "https://ca.test/o", .json(order, status: 201, headers: ["Location": "https://ca.test/order/0", "Replay-Nonce": "not a nonce!"]))
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: transport, accountKey: try AccountKey.generate(),
                                accountURL: "https://ca.test/acct/1", clock: ManualClock())
        for _ in 0..<4 { _ = try await client.newOrder(identifiers: [.dns("a.test")]) }
        #expect(transport.requests("POST", "https://ca.test/o").map { $0.jws?.nonce } == ["n0", "n0", "n1", "n2"])
        #expect(transport.requests("HEAD", "https://ca.test/n").count == 2)
    }

    // MARK: - A busy CA

    /// 503 and rateLimited with a short Retry-After are waited on the injected clock.
    @Test func busyAnswersAreWaitedOnTheClock() async throws {
        let (client, ca, clock) = try await Self.client()
        ca.transport.once("POST", ca.newOrderURL, .empty(status: 503, headers: ["Retry-After": "7"]),
                          .problem("rateLimited", detail: "too many new orders", status: 429, retryAfter: "5"))
        let order = try await client.newOrder(identifiers: [.dns("a.test")])
        #expect(order.status == .pending)
        // Twelve seconds of the clock's time: had the sender slept for real, the ManualClock
        // would not have moved.
        #expect(clock.elapsed == .seconds(12))
        #expect(clock.sleeps == 2)
        #expect(ca.transport.requests("POST", ca.newOrderURL).count == 3)
    }

    /// The busy waits are bounded too: the fourth 503 is the caller's, naming the CA, the
    /// operation and the Retry-After.
    @Test func busyRetriesAreBounded() async throws {
        let (client, ca, clock) = try await Self.client()
        ca.transport.on("POST", ca.newOrderURL, .empty(status: 503, headers: ["Retry-After": "1"]))
        let error = try await #require(throws: ACMEError.self) { try await client.newOrder(identifiers: [.dns("a.test")]) }
        #expect(error.message == "The CA at ca.test answered HTTP 503 when trying to create an order for a.test (the CA asks to retry after 1 s).")
        #expect(error.retryAfter == .seconds(1))
        #expect(clock.elapsed == .seconds(SignedRequestSender.busyRetries))
        #expect(ca.transport.requests("POST", ca.newOrderURL).count == SignedRequestSender.busyRetries + 1)
    }

    // MARK: - Polling

    /// pending → valid, each wait the Retry-After the CA sent.
    @Test func authorizationPollingHonoursRetryAfter() async throws {
        let (client, ca, clock) = try await Self.client()
        let url = "https://ca.test/acme/authz/9/0"
        ca.transport.on("POST", url, Self.pending("3"), Self.pending("4"), Self.pending("120"), Self.valid)
        let authorization = try await client.waitForAuthorization(at: url, deadline: clock.now + .seconds(60))
        #expect(authorization.status == .valid)
        // 3 s and 4 s as asked; 120 s is capped at 10 s.
        #expect(clock.elapsed == .seconds(17))
        #expect(clock.sleeps == 3)
        #expect(ca.transport.requests("POST", url).allSatisfy { $0.jws?.isPostAsGet == true })
    }

    /// Without Retry-After the back-off grows ×1.5 from 100 ms up to 2 s: fifty pending
    /// answers are 50 waits of simulated time (milliseconds of real time when run alone).
    @Test func fiftyPendingPollsTakeMilliseconds() async throws {
        let (client, ca, clock) = try await Self.client()
        let url = "https://ca.test/acme/authz/9/0"
        ca.transport.on("POST", url, Array(repeating: Self.pending(), count: 50) + [Self.valid])
        _ = try await client.waitForAuthorization(at: url, deadline: clock.now + .seconds(600))
        var expected = Duration.zero, step = Duration.milliseconds(100)
        for _ in 0..<50 {
            expected += step
            step = min(step * 1.5, .seconds(2))
        }
        #expect(clock.sleeps == 50)
        #expect(clock.elapsed == expected)
        // Almost 89 s of polling on the clock; no wall-clock bound (the full suite on two
        // loaded cores can hold any task for seconds).
        #expect(clock.elapsed > .seconds(80))
    }

    /// An order still processing at the deadline: polled until the deadline exactly, never
    /// past it, then one sentence naming the CA and the order.
    @Test func orderTimeoutAtTheDeadline() async throws {
        let (client, ca, clock) = try await Self.client()
        let url = ca.orderURL(7)
        let processing = #"{"status":"processing","identifiers":[{"type":"dns","value":"a.test"}],"authorizations":[],"finalize":"\#(ca.finalizeURL(7))"}"#
        ca.transport.on("POST", url, .json(processing, headers: ["retry-after": "7"]))
        let deadline = clock.now + .seconds(30)
        let error = try await #require(throws: ACMEError.self) { try await client.waitForOrder(at: url, deadline: deadline) }
        #expect(error.code == .timeout)
        #expect(error.message == "Timed out waiting for the CA to issue order \(url) (still processing).")
        #expect(clock.now == deadline)
        // 7, 14, 21, 28, then 2 s to the deadline, and one last look at it.
        #expect(clock.sleeps == 5)
        #expect(ca.transport.requests("POST", url).count == 6)
    }

    @Test func anAuthorizationPastTheDeadlineNamesTheName() async throws {
        let (client, ca, clock) = try await Self.client()
        let url = "https://ca.test/acme/authz/9/0"
        ca.transport.on("POST", url, Self.pending())
        let error = try await #require(throws: ACMEError.self) {
            try await client.waitForAuthorization(at: url, deadline: clock.now + .seconds(5))
        }
        #expect(error.message == "Timed out waiting for the CA to validate a.test.")
        #expect(clock.elapsed == .seconds(5))
    }

    // MARK: - A whole flow

    /// RFC 8555 §7.4 from newAccount to the chain, for an apex, a wildcard and another name:
    /// every authorization polled pending → valid, the order processing → valid, the chain
    /// validated against the CSR's key, one HEAD newNonce in all.
    @Test func aWholeFlowAgainstTheScriptedCA() async throws {
        let (client, ca, clock) = try await Self.client(.init(pendingPolls: 2, processingPolls: 2, retryAfter: 3))
        let names = ["a.test", "*.a.test", "b.test"]
        let order = try await client.newOrder(identifiers: names.map(Identifier.dns))
        #expect(order.authorizations.count == 3)
        let thumbprint = await client.keyAuthorizationThumbprint()
        var values: [String] = []
        for url in order.authorizations {
            let authorization = try await client.authorization(at: url)
            let challenge = try #require(authorization.challenges.first { $0.type == "dns-01" })
            values.append(KeyAuthorization.dns01Value(token: try #require(challenge.token), thumbprint: thumbprint))
            #expect(try await client.respond(to: challenge).status == "processing")
        }
        for url in order.authorizations {
            let done = try await client.waitForAuthorization(at: url, deadline: clock.now + .seconds(60))
            #expect(done.status == .valid)
        }
        #expect(Set(values).count == 3)
        let key = P256.Signing.PrivateKey()
        let csr = try CSRBuilder.make(names: names, privateKey: .init(key))
        let finalized = try await client.finalize(order, csrDER: csr)
        #expect(finalized.status == .processing)
        let valid = try await client.waitForOrder(at: order.url, deadline: clock.now + .seconds(60))
        let certificateURL = try #require(valid.certificate)
        let chain = try await client.downloadCertificate(at: certificateURL, preferredChain: nil, publicKey: .init(key.publicKey), names: names)
        #expect(chain.certificates.count == 2)
        // Three authorizations × two pending polls × 3 s, then two processing polls × 3 s.
        #expect(clock.elapsed == .seconds(24))
        #expect(ca.transport.requests("HEAD", ca.newNonceURL).count <= 1)
        #expect(ca.transport.nonceFaults.isEmpty)
        #expect(ca.transport.requests.compactMap(\.jws).allSatisfy { $0.kid == ca.accountURL || $0.url == ca.newAccountURL })
    }

    /// A challenge the CA could not validate ends the wait with its problem, naming the name.
    @Test func anInvalidAuthorizationNamesTheNameAndTheProblem() async throws {
        let (client, ca, clock) = try await Self.client(.init(pendingPolls: 0, failing: ["*.b.test": "No TXT record found at _acme-challenge.b.test"]))
        let order = try await client.newOrder(identifiers: [.dns("*.b.test")])
        let authorization = try await client.authorization(at: order.authorizations[0])
        #expect(authorization.wildcard == true && authorization.identifier.value == "b.test")
        _ = try await client.respond(to: try #require(authorization.challenges.first))
        let error = try await #require(throws: ACMEError.self) {
            try await client.waitForAuthorization(at: order.authorizations[0], deadline: clock.now + .seconds(60))
        }
        #expect(error.code == .invalidChallenge)
        #expect(error.message == "The CA rejected the dns-01 challenge for *.b.test: urn:ietf:params:acme:error:incorrectResponse: No TXT record found at _acme-challenge.b.test.")
        #expect(error.problem?.type == .incorrectResponse)
        // The order is invalid too, its problem naming the identifier in a subproblem.
        let orderError = try await #require(throws: ACMEError.self) {
            try await client.waitForOrder(at: ca.orderURL(1), deadline: clock.now + .seconds(60))
        }
        #expect(orderError.code == .invalidOrder)
        #expect(orderError.problem?.subproblems?.first?.identifier == .dns("b.test"))
    }
}
