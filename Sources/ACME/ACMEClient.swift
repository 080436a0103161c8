import Foundation
import Logging

/// An RFC 8555 client for one account at one CA. Every POST is a JWS signed with the account
/// key; nonces come from a pool fed by every response (§7.2); a badNonce problem is retried
/// with a fresh nonce (§6.5).
public actor ACMEClient {
    public let directoryURL: String
    let transport: any HTTPTransport
    let accountKey: AccountKey
    let logger: Logger
    public private(set) var accountURL: String?
    private var cachedDirectory: Directory?
    private var nonces: [String] = []
    private let thumbprint: String

    /// How many times one request is re-signed after badNonce before the error stands.
    static let nonceAttempts = 10

    public init(directoryURL: String, transport: any HTTPTransport, accountKey: AccountKey,
                accountURL: String? = nil, logger: Logger = Logger(label: "dns01.acme")) {
        self.directoryURL = directoryURL
        self.transport = transport
        self.accountKey = accountKey
        self.accountURL = accountURL
        self.logger = logger
        thumbprint = accountKey.thumbprint()
    }

    public nonisolated func keyAuthorizationThumbprint() -> String { thumbprint }

    var host: String { CurlTransport.host(of: directoryURL) }

    /// RFC 8555 §7.1.1, fetched once.
    public func directory() async throws -> Directory {
        if let cachedDirectory { return cachedDirectory }
        let response = try await transport.send(HTTPRequest(method: "GET", url: directoryURL))
        guard response.status == 200 else {
            throw ACMEError(.invalidDirectory, "\(directoryURL) answered HTTP \(response.status); it is not an ACME directory.")
        }
        guard let directory = try? JSONDecoder().decode(Directory.self, from: Data(response.body)) else {
            throw ACMEError(.invalidDirectory, "\(directoryURL) is not an ACME directory (no newNonce, newAccount and newOrder URLs).")
        }
        cachedDirectory = directory
        return directory
    }

    /// RFC 8555 §7.3: creates (or finds) the account and keeps its URL as `kid`.
    public func newAccount(contact: [String], termsOfServiceAgreed: Bool, onlyReturnExisting: Bool = false) async throws -> (url: String, account: Account) {
        struct Payload: Encodable {
            var contact: [String]?
            var termsOfServiceAgreed: Bool?
            var onlyReturnExisting: Bool?
        }
        let payload = Payload(contact: contact.isEmpty ? nil : contact, termsOfServiceAgreed: termsOfServiceAgreed ? true : nil,
                              onlyReturnExisting: onlyReturnExisting ? true : nil)
        let url = try await directory().newAccount
        let response = try await post(url, payload: try JSONEncoder.plain.encode(payload), what: "create the account", useJWK: true)
        guard let location = response.header("Location") else {
            throw ACMEError(.badResponse, "The CA at \(host) created an account but sent no Location for it.")
        }
        accountURL = location
        return (location, try decode(Account.self, response, what: "account"))
    }

    /// RFC 8555 §7.4.
    public func newOrder(identifiers: [Identifier]) async throws -> Order {
        struct Payload: Encodable { var identifiers: [Identifier] }
        let url = try await directory().newOrder
        let names = identifiers.map(\.value).joined(separator: ", ")
        let response = try await post(url, payload: try JSONEncoder.plain.encode(Payload(identifiers: identifiers)), what: "create an order for \(names)")
        var order = try decode(Order.self, response, what: "order")
        guard let location = response.header("Location") else {
            throw ACMEError(.badResponse, "The CA at \(host) created an order but sent no Location for it.")
        }
        order.url = location
        return order
    }

    /// RFC 8555 §7.5, POST-as-GET.
    public func authorization(at url: String) async throws -> Authorization {
        try await fetchAuthorization(url).value
    }

    private func fetchAuthorization(_ url: String) async throws -> (value: Authorization, retryAfter: Duration?) {
        let response = try await post(url, payload: nil, what: "fetch authorization \(url)")
        var authorization = try decode(Authorization.self, response, what: "authorization")
        authorization.url = url
        return (authorization, RetryAfter.parse(response.header("Retry-After")))
    }

    /// RFC 8555 §7.5.1: tells the CA the challenge is ready, with the payload `{}`.
    public func respond(to challenge: Challenge) async throws -> Challenge {
        let response = try await post(challenge.url, payload: Array("{}".utf8), what: "answer challenge \(challenge.url)")
        return try decode(Challenge.self, response, what: "challenge")
    }

    /// Polls an authorization until it leaves `pending`, honouring Retry-After; `invalid` throws
    /// the challenge's problem.
    public func waitForAuthorization(at url: String, deadline: ContinuousClock.Instant) async throws -> Authorization {
        var backoff = Duration.milliseconds(100)
        while true {
            let (authorization, retryAfter) = try await fetchAuthorization(url)
            let name = (authorization.wildcard == true ? "*." : "") + authorization.identifier.value
            switch authorization.status {
            case .valid:
                return authorization
            case .pending:
                break
            case .invalid:
                let failed = authorization.challenges.first { $0.error != nil }
                let problem = failed?.error
                let type = failed?.type ?? "dns-01"
                throw ACMEError(.invalidChallenge, "The CA rejected the \(type) challenge for \(name): \(problem?.description ?? "no reason given").", problem: problem)
            default:
                throw ACMEError(.invalidChallenge, "The CA's authorization for \(name) became \(authorization.status.rawValue).")
            }
            try await pause(retryAfter: retryAfter, backoff: &backoff, deadline: deadline,
                            what: "the CA to validate \(name)")
        }
    }

    /// RFC 8555 §7.4: sends the CSR.
    public func finalize(_ order: Order, csrDER: [UInt8]) async throws -> Order {
        struct Payload: Encodable { var csr: String }
        let response = try await post(order.finalize, payload: try JSONEncoder.plain.encode(Payload(csr: Base64URL.encode(csrDER))),
                                      what: "finalize order \(order.url)")
        var updated = try decode(Order.self, response, what: "order")
        updated.url = order.url
        return updated
    }

    /// Polls an order until `valid`; `invalid` throws the order's problem.
    public func waitForOrder(at url: String, deadline: ContinuousClock.Instant) async throws -> Order {
        var backoff = Duration.milliseconds(100)
        while true {
            let response = try await post(url, payload: nil, what: "fetch order \(url)")
            var order = try decode(Order.self, response, what: "order")
            order.url = url
            switch order.status {
            case .valid:
                return order
            case .invalid:
                throw ACMEError(.invalidOrder, "The CA marked order \(url) invalid: \(order.error?.description ?? "no reason given").", problem: order.error)
            default:
                try await pause(retryAfter: RetryAfter.parse(response.header("Retry-After")), backoff: &backoff,
                                deadline: deadline, what: "the CA to issue order \(url) (still \(order.status.rawValue))")
            }
        }
    }

    /// RFC 8555 §7.4.2: the PEM chain, and the URLs of alternate chains.
    public func downloadCertificate(at url: String) async throws -> CertificateChain {
        let response = try await post(url, payload: nil, what: "download the certificate", accept: "application/pem-certificate-chain")
        let pem = String(decoding: response.body, as: UTF8.self)
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw ACMEError(.badResponse, "The CA at \(host) sent no PEM certificate chain from \(url).")
        }
        let alternates = (response.headers["link"] ?? []).flatMap { $0.split(separator: ",") }.compactMap { link -> String? in
            guard link.contains("rel=\"alternate\""), let open = link.firstIndex(of: "<"), let close = link.firstIndex(of: ">") else { return nil }
            return String(link[link.index(after: open)..<close])
        }
        return CertificateChain(pem: pem, alternates: alternates)
    }

    // MARK: - Requests

    /// One signed POST (§6.2), re-signed with a fresh nonce on badNonce (§6.5).
    func post(_ url: String, payload: (any Sequence<UInt8>)?, what: String, useJWK: Bool = false,
              accept: String? = nil) async throws -> HTTPResponse {
        let body = payload.map { Array($0) }
        var headers = [("Content-Type", "application/jose+json")]
        if let accept { headers.append(("Accept", accept)) }
        for attempt in 1...ACMEClient.nonceAttempts {
            let nonce = try await nextNonce()
            let kid = useJWK ? nil : accountURL
            let header = JWS.protectedHeader(algorithm: accountKey.algorithm.rawValue, jwk: kid == nil ? accountKey.jwk : nil,
                                             kid: kid, nonce: nonce, url: url)
            let jws = try JWS.flattened(protectedHeader: header, payload: body, sign: accountKey.sign)
            logger.debug("POST \(url)")
            let response = try await transport.send(HTTPRequest(method: "POST", url: url, headers: headers, body: jws))
            remember(response)
            guard response.status >= 400 else { return response }
            let problem = try? JSONDecoder().decode(Problem.self, from: Data(response.body))
            if problem?.type == .badNonce && attempt < ACMEClient.nonceAttempts {
                logger.debug("badNonce from \(host), retrying with a fresh nonce (attempt \(attempt))")
                continue
            }
            throw failure(response, problem: problem, what: what)
        }
        throw ACMEError(.problem, "The CA at \(host) rejected \(ACMEClient.nonceAttempts) nonces in a row while trying to \(what).")
    }

    private func failure(_ response: HTTPResponse, problem: Problem?, what: String) -> ACMEError {
        let retryAfter = RetryAfter.parse(response.header("Retry-After"))
        let later = retryAfter.map { " (the CA asks to retry after \(Int($0.components.seconds)) s)" } ?? ""
        guard let problem else {
            return ACMEError(.badResponse, "The CA at \(host) answered HTTP \(response.status) when trying to \(what)\(later).", retryAfter: retryAfter)
        }
        return ACMEError(.problem, "The CA at \(host) refused to \(what): \(problem)\(later).", problem: problem, retryAfter: retryAfter)
    }

    private func nextNonce() async throws -> String {
        if let nonce = nonces.popLast() { return nonce }
        let url = try await directory().newNonce
        let response = try await transport.send(HTTPRequest(method: "HEAD", url: url))
        guard let nonce = response.header("Replay-Nonce") else {
            throw ACMEError(.badResponse, "The CA at \(host) gave no Replay-Nonce from \(url).")
        }
        return nonce
    }

    private func remember(_ response: HTTPResponse) {
        guard let nonce = response.header("Replay-Nonce") else { return }
        nonces.append(nonce)
        if nonces.count > 64 { nonces.removeFirst(nonces.count - 64) }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPResponse, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(response.body))
        } catch {
            throw ACMEError(.badResponse, "The CA at \(host) sent a malformed \(what) object: \(error).")
        }
    }

    /// Sleeps for Retry-After (capped at 10 s) or the next backoff step (×1.5 up to 2 s), but
    /// never past `deadline`, which throws.
    private func pause(retryAfter: Duration?, backoff: inout Duration, deadline: ContinuousClock.Instant, what: String) async throws {
        let now = ContinuousClock.now
        guard now < deadline else {
            throw ACMEError(.timeout, "Timed out waiting for \(what).")
        }
        let delay = retryAfter.map { min(max($0, .milliseconds(50)), .seconds(10)) } ?? backoff
        backoff = min(backoff * 1.5, .seconds(2))
        try await Task.sleep(until: min(now + delay, deadline), clock: .continuous)
    }
}
