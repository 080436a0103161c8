import HTTP
import Synchronization

/// A test double of `HTTPTransport` that answers from a script, for unit tests of pure logic
/// (the ACME state machine, the issuance flow) in milliseconds: no socket, no sleep. It is not
/// a mock CA: integration tests still run the real Pebble (STYLE.md 8, 14).
///
/// Answers are routed by method and URL. A route answers with a list of responses in turn (the
/// last one again from then on: `pending`, `pending`, `valid`) or with a handler that sees the
/// recorded request; `once` puts answers in front of a route for its next calls (a badNonce, a
/// busy 503), and `otherwise` answers whatever no route takes. Every request is recorded with
/// its JWS decoded (`RecordedRequest`). With `issuesNonces`, every answer without a
/// Replay-Nonce gets a fresh one (`nonce-1`, `nonce-2`, …), as a CA's do (RFC 8555 §6.5), and
/// `nonceFaults` lists the nonces a client sent that were never issued or sent twice.
///
/// ```swift
/// let transport = ScriptedTransport()
/// transport.on("GET", "https://ca.test/dir", .json(directory))
/// transport.on("POST", authz, .json(pending), .json(pending), .json(valid))
/// transport.once("POST", authz, .problem("badNonce", detail: "stale"))
/// ```
public final class ScriptedTransport: HTTPTransport, Sendable {
    /// Answers one request; a thrown error reaches the client as the transport's error (a
    /// network failure is `HTTPError(.network, …)`).
    public typealias Handler = @Sendable (RecordedRequest) throws -> HTTPResponse

    private struct Route {
        var once: [HTTPResponse] = []
        var steady: [HTTPResponse] = []
        var handler: Handler?
        var calls = 0
        /// Calls answered from `steady` so far.
        var steadyServed = 0
    }

    private struct State {
        var routes: [String: Route] = [:]
        var otherwise: Handler?
        var requests: [RecordedRequest] = []
        var issued: [String] = []
        var nextNonce = 1
    }

    private let state = Mutex(State())
    /// Whether answers without a Replay-Nonce header get a fresh one.
    public let issuesNonces: Bool

    public init(issuesNonces: Bool = true) {
        self.issuesNonces = issuesNonces
    }

    private static func key(_ method: String, _ url: String) -> String { method.uppercased() + " " + url }

    /// Answers `method url` with `responses` in turn, the last one from then on. Replaces what
    /// the route answered before (answers put in front with `once` stay).
    public func on(_ method: String, _ url: String, _ responses: HTTPResponse...) {
        on(method, url, responses)
    }

    public func on(_ method: String, _ url: String, _ responses: [HTTPResponse]) {
        state.withLock { state in
            var route = state.routes[Self.key(method, url)] ?? Route()
            route.steady = responses
            route.steadyServed = 0
            route.handler = nil
            state.routes[Self.key(method, url)] = route
        }
    }

    /// Answers `method url` with `handler`, every call (`RecordedRequest.call` counts them).
    public func on(_ method: String, _ url: String, handler: @escaping Handler) {
        state.withLock { state in
            var route = state.routes[Self.key(method, url)] ?? Route()
            route.steady = []
            route.handler = handler
            state.routes[Self.key(method, url)] = route
        }
    }

    /// Answers the next calls of `method url` with `responses`, one each, before whatever the
    /// route (or `otherwise`) answers: a fault injected once.
    public func once(_ method: String, _ url: String, _ responses: HTTPResponse...) {
        state.withLock { state in
            var route = state.routes[Self.key(method, url)] ?? Route()
            route.once.append(contentsOf: responses)
            state.routes[Self.key(method, url)] = route
        }
    }

    /// Answers every request no route answers. Without it such a request throws an
    /// `HTTPError(.network)` naming it.
    public func otherwise(_ handler: @escaping Handler) {
        state.withLock { $0.otherwise = handler }
    }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let key = Self.key(request.method, request.url)
        enum Answer {
            case response(HTTPResponse)
            case handler(Handler)
            case none
        }
        // Record and pick under the lock; run a handler outside it, so it may look at the
        // requests or script more routes.
        let (recorded, answer) = state.withLock { state -> (RecordedRequest, Answer) in
            var route = state.routes[key] ?? Route()
            let recorded = RecordedRequest(request, call: route.calls)
            route.calls += 1
            state.requests.append(recorded)
            let answer: Answer
            if !route.once.isEmpty {
                answer = .response(route.once.removeFirst())
            } else if let handler = route.handler {
                answer = .handler(handler)
            } else if !route.steady.isEmpty {
                answer = .response(route.steady[min(route.steadyServed, route.steady.count - 1)])
                route.steadyServed += 1
            } else if let otherwise = state.otherwise {
                answer = .handler(otherwise)
            } else {
                answer = .none
            }
            state.routes[key] = route
            return (recorded, answer)
        }
        var response: HTTPResponse
        switch answer {
        case .response(let scripted): response = scripted
        case .handler(let handler): response = try handler(recorded)
        case .none:
            throw HTTPError(.network, "The scripted transport has no answer for \(key).", host: Self.host(of: request.url))
        }
        if issuesNonces, response.header("Replay-Nonce") == nil {
            response.headers["replay-nonce"] = [state.withLock { state in
                let nonce = "nonce-\(state.nextNonce)"
                state.nextNonce += 1
                state.issued.append(nonce)
                return nonce
            }]
        } else if let nonce = response.header("Replay-Nonce") {
            state.withLock { $0.issued.append(nonce) }
        }
        return response
    }

    /// Every request so far, in order.
    public var requests: [RecordedRequest] { state.withLock { $0.requests } }

    /// The requests to `url`, with `method` when given.
    public func requests(_ method: String? = nil, _ url: String) -> [RecordedRequest] {
        requests.filter { $0.url == url && (method == nil || $0.method == method?.uppercased()) }
    }

    /// The Replay-Nonce values handed out so far, in order.
    public var issuedNonces: [String] { state.withLock { $0.issued } }

    /// Nonces sent in a JWS that this transport never issued, or sent a second time: a
    /// client that keeps to RFC 8555 §6.5 leaves this empty.
    public var nonceFaults: [String] {
        let (requests, issued) = state.withLock { ($0.requests, Set($0.issued)) }
        var seen = Set<String>(), faults: [String] = []
        for nonce in requests.compactMap({ $0.jws?.nonce }) {
            if !issued.contains(nonce) || !seen.insert(nonce).inserted { faults.append(nonce) }
        }
        return faults
    }

    static func host(of url: String) -> String {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        return String(rest.prefix { $0 != "/" && $0 != "?" })
    }
}
