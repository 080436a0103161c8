import Clocks
import FoundationEssentials
import Glibc
import HTTP
import Logging

/// Sends the requests of one ACME client (RFC 8555 §6): every POST a JWS signed by the account
/// key (§6.2), its nonce from the `NoncePool` fed by every answer (§6.5), re-signed with a
/// fresh nonce after badNonce (§6.5) up to `nonceAttempts` times, a busy CA's 503 or
/// rateLimited answer waited out on the injected clock as its Retry-After asks (§6.6), problem
/// documents (§6.7) turned into one-sentence `ACMEError`s naming the CA and the operation, and
/// responses decoded with the same care. The resources' operations (`Account.swift`,
/// `Order.swift`, …) are written on top of it and know none of this.
actor SignedRequestSender {
    /// Who signs a request: the account key, with its URL as `kid`, or its `jwk` when there is
    /// no account URL yet (newAccount, §6.2).
    struct Signer: Sendable {
        var key: AccountKey
        var kid: String?
    }

    /// How many badNonce answers to one request end it; each one before is re-signed with a
    /// fresh nonce, so a request is signed at most this many times for them. Pebble's
    /// 50 % rejection (the tests) fails ten in a row once in 1,024 requests, a run of the suite
    /// makes hundreds; twenty is once in a million, and a CA that rejects every nonce still
    /// ends in an error at once.
    static let nonceAttempts = 20
    /// How often one request waits out a 503 or rateLimited answer, and the longest
    /// Retry-After waited; a longer one becomes an error naming the time to retry.
    static let busyRetries = 3
    static let busyWaitLimit = Duration.seconds(60)
    /// The shortest busy wait, whatever Retry-After says ("0" would make a tight loop).
    static let shortestBusyWait = Duration.milliseconds(100)

    let transport: any HTTPTransport
    let clock: any DeadlineClock
    let logger: Logger
    /// "host[:port]" of the CA, for every message.
    nonisolated let host: String
    private var nonces = NoncePool()

    init(transport: any HTTPTransport, clock: any DeadlineClock, logger: Logger, host: String) {
        self.transport = transport
        self.clock = clock
        self.logger = logger
        self.host = host
    }

    /// One signed POST (§6.2) to `url`; `payload == nil` is POST-as-GET (§6.3). `what` is the
    /// operation as the end of a sentence ("create an order for a.test"). Returns the first
    /// answer below 400; throws the CA's refusal otherwise.
    func post(_ url: String, payload: [UInt8]?, signer: Signer, newNonceURL: String, what: String,
              accept: String? = nil) async throws -> HTTPResponse {
        var headers = [("Content-Type", "application/jose+json")]
        if let accept { headers.append(("Accept", accept)) }
        // Each kind of retry has its own bound: badNonce re-signs at once, a busy CA is waited for.
        var rejectedNonces = 0, waits = 0
        while true {
            // A cancelled task (SIGINT/SIGTERM) sends nothing more to the CA.
            try Task.checkCancellation()
            let nonce = try await nextNonce(newNonceURL)
            let header = JWS.protectedHeader(algorithm: signer.key.algorithm.rawValue, jwk: signer.kid == nil ? signer.key.jwk : nil,
                                             kid: signer.kid, nonce: nonce, url: url)
            let jws = try JWS.flattened(protectedHeader: header, payload: payload, sign: signer.key.sign)
            logger.debug("POST \(url)")
            let response = try await transport.send(HTTPRequest(method: "POST", url: url, headers: headers, body: jws))
            nonces.remember(response)
            guard response.status >= 400 else { return response }
            let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body))
            if problem?.type == .badNonce {
                rejectedNonces += 1
                guard rejectedNonces < Self.nonceAttempts else {
                    throw ACMEError(.problem, "The CA at \(host) rejected \(Self.nonceAttempts) nonces in a row while trying to \(what).",
                                    problem: problem)
                }
                logger.debug("badNonce from \(host), retrying with a fresh nonce (attempt \(rejectedNonces + 1))")
                continue
            }
            // RFC 8555 §6.6: 503 or rateLimited with a short Retry-After: wait it out, a few times at most.
            if response.status == 503 || problem?.type == .rateLimited, waits < Self.busyRetries,
               let retryAfter = RetryAfter.parse(response.header("Retry-After")), retryAfter <= Self.busyWaitLimit {
                waits += 1
                logger.info("The CA at \(host) is busy; retrying in \(Int(retryAfter.components.seconds)) s as it asks")
                try await clock.sleep(for: max(retryAfter, Self.shortestBusyWait))
                continue
            }
            throw failure(response, problem: problem, what: what)
        }
    }

    /// An unsigned GET (the directory §7.1.1, renewal information RFC 9773 §4.2), whose
    /// Replay-Nonce feeds the pool all the same.
    func get(_ url: String) async throws -> HTTPResponse {
        try Task.checkCancellation()
        let response = try await transport.send(HTTPRequest(method: "GET", url: url))
        nonces.remember(response)
        return response
    }

    /// §7.2: a nonce from the pool, or from a HEAD to newNonce when it is empty.
    private func nextNonce(_ newNonceURL: String) async throws -> String {
        if let nonce = nonces.take() { return nonce }
        let response = try await transport.send(HTTPRequest(method: "HEAD", url: newNonceURL))
        guard let nonce = response.header("Replay-Nonce"), NoncePool.isNonce(nonce) else {
            throw ACMEError(.badResponse, "The CA at \(host) gave no Replay-Nonce from \(newNonceURL).")
        }
        return nonce
    }

    /// The CA's refusal as one sentence: its problem document (§6.7) or its HTTP status, and
    /// when it asks to come back.
    nonisolated func failure(_ response: HTTPResponse, problem: Problem?, what: String) -> ACMEError {
        let retryAfter = RetryAfter.parse(response.header("Retry-After"))
        let later = retryAfter.map { " (the CA asks to retry after \(Int($0.components.seconds)) s)" } ?? ""
        guard let problem else {
            return ACMEError(.badResponse, "The CA at \(host) answered HTTP \(response.status) when trying to \(what)\(later).", retryAfter: retryAfter)
        }
        return ACMEError(.problem, "The CA at \(host) refused to \(what): \(problem)\(later).", problem: problem, retryAfter: retryAfter)
    }

    /// A response body as `type`; `what` names the object in the error ("order").
    nonisolated func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw ACMEError(.badResponse, "The CA at \(host) sent a malformed \(what) object (\(Self.summary(of: error))).")
        }
    }

    /// What is wrong with a document, in a few words: a decoder's own description is a
    /// multi-line dump.
    static func summary(of error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            UntrustedText.clip(context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: "."), limit: 100)
        }
        switch error as? DecodingError {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "field '\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)' is missing"
        case .valueNotFound(_, let context):
            return "field '\(path(context))' is null"
        case .typeMismatch(let type, let context):
            return context.codingPath.isEmpty ? "it is not a JSON object" : "field '\(path(context))' is not a \(type)"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "it is not valid JSON" : "field '\(path(context))' is invalid"
        default:
            return "it cannot be decoded"
        }
    }
}
