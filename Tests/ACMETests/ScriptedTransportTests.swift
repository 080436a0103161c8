import ACME
import Foundation
import HTTP
import ScriptedHTTP
import Testing

/// The test double itself: routes, successive answers, faults put in front, nonces, and the
/// requests recorded with their JWS decoded.
@Suite struct ScriptedTransportTests {
    @Test func successiveAnswersThenTheLastOneAgain() async throws {
        let transport = ScriptedTransport(issuesNonces: false)
        transport.on("POST", "https://ca.test/authz/1", .json(#"{"status":"pending"}"#), .json(#"{"status":"valid"}"#))
        transport.once("POST", "https://ca.test/authz/1", .empty(status: 503, headers: ["Retry-After": "2"]))
        var statuses: [Int] = []
        var bodies: [String] = []
        for _ in 0..<4 {
            let response = try await transport.send(HTTPRequest(method: "post", url: "https://ca.test/authz/1"))
            statuses.append(response.status)
            bodies.append(String(decoding: response.body, as: UTF8.self))
        }
        #expect(statuses == [503, 200, 200, 200])
        #expect(bodies.dropFirst() == [#"{"status":"pending"}"#, #"{"status":"valid"}"#, #"{"status":"valid"}"#])
        #expect(transport.requests.map(\.call) == [0, 1, 2, 3])
        #expect(transport.requests("POST", "https://ca.test/authz/1").count == 4)
    }

    @Test func anUnscriptedRequestIsANetworkErrorNamingIt() async throws {
        let transport = ScriptedTransport()
        let error = try await #require(throws: HTTPError.self) {
            try await transport.send(HTTPRequest(method: "GET", url: "https://ca.test/nowhere"))
        }
        #expect(error.code == .network)
        #expect(error.message == "The scripted transport has no answer for GET https://ca.test/nowhere.")
        #expect(error.host == "ca.test")
        transport.otherwise { request in .json("{}", status: 404).with("x-seen", request.url) }
        let answer = try await transport.send(HTTPRequest(method: "GET", url: "https://ca.test/nowhere"))
        #expect(answer.status == 404 && answer.header("X-Seen") == "https://ca.test/nowhere")
    }

    @Test func nonceFaultsListReplayedAndUnknownNonces() async throws {
        let transport = ScriptedTransport()
        transport.on("HEAD", "https://ca.test/n", .empty())
        let first = try await transport.send(HTTPRequest(method: "HEAD", url: "https://ca.test/n"))
        #expect(first.header("Replay-Nonce") == "nonce-1")
        transport.on("POST", "https://ca.test/x") { request in .json(#"{"call":\#(request.call)}"#) }
        let key = try AccountKey.generate()
        for nonce in ["nonce-1", "nonce-1", "made-up"] {
            let header = JWS.protectedHeader(algorithm: "ES256", jwk: nil, kid: "https://ca.test/acct/1", nonce: nonce, url: "https://ca.test/x")
            let body = try JWS.flattened(protectedHeader: header, payload: Array(#"{"a":1}"#.utf8), sign: key.sign)
            _ = try await transport.send(HTTPRequest(method: "POST", url: "https://ca.test/x", body: body))
        }
        #expect(transport.nonceFaults == ["nonce-1", "made-up"])
        #expect(transport.issuedNonces == ["nonce-1", "nonce-2", "nonce-3", "nonce-4"])
        let jws = try #require(transport.requests.last?.jws)
        #expect(jws.kid == "https://ca.test/acct/1" && jws.alg == "ES256" && jws.url == "https://ca.test/x")
        #expect(jws.payloadText == #"{"a":1}"# && !jws.isPostAsGet && jws.signature.count == 64)
    }
}
