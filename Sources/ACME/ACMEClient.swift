import Clocks
import Foundation
import HTTP
import Logging
import X509

/// An RFC 8555 client for one account at one CA. Every POST is a JWS signed with the account
/// key; nonces come from a pool fed by every response (§7.2); a badNonce problem is retried
/// with a fresh nonce (§6.5).
public actor ACMEClient {
    public let directoryURL: String
    let transport: any HTTPTransport
    public private(set) var accountKey: AccountKey
    let logger: Logger
    /// Every wait (polling, a busy CA's Retry-After) and the "now" its deadline is checked
    /// against: `SystemClock` in the program, a `ManualClock` in tests (STYLE.md 14).
    public nonisolated let clock: any DeadlineClock
    public private(set) var accountURL: String?
    private var cachedDirectory: Directory?
    private var nonces: [String] = []
    private var thumbprint: String

    /// How many times one request is re-signed after badNonce before the error stands. Pebble's
    /// 50 % rejection (the tests) fails ten in a row once in 1,024 requests, a run of the suite
    /// makes hundreds; twenty is once in a million, and a CA that rejects every nonce still
    /// ends in an error at once.
    static let nonceAttempts = 20
    /// How often one request waits out a 503 or rateLimited answer, and the longest
    /// Retry-After waited; a longer one becomes an error naming the time to retry.
    static let busyRetries = 3
    static let busyWaitLimit = Duration.seconds(60)

    public init(directoryURL: String, transport: any HTTPTransport, accountKey: AccountKey,
                accountURL: String? = nil, logger: Logger = Logger(label: "dns01.acme"),
                clock: any DeadlineClock = SystemClock()) {
        self.directoryURL = directoryURL
        self.transport = transport
        self.accountKey = accountKey
        self.accountURL = accountURL
        self.logger = logger
        self.clock = clock
        thumbprint = accountKey.thumbprint()
    }

    public func keyAuthorizationThumbprint() -> String { thumbprint }

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

    /// RFC 8555 §7.3: creates (or finds) the account and keeps its URL as `kid`. With
    /// `externalAccountBinding`, the account is bound to the CA's key id (§7.3.4, HS256).
    public func newAccount(contact: [String], termsOfServiceAgreed: Bool, onlyReturnExisting: Bool = false,
                           externalAccountBinding: ExternalAccountBinding? = nil) async throws -> (url: String, account: Account) {
        struct Payload: Encodable {
            var contact: [String]?
            var termsOfServiceAgreed: Bool?
            var onlyReturnExisting: Bool?
            var externalAccountBinding: JWS.Flattened?
        }
        let directory = try await directory()
        if directory.meta?.externalAccountRequired == true, externalAccountBinding == nil, !onlyReturnExisting {
            throw ACMEError(.externalAccountRequired, "The CA at \(host) requires external account binding: set eab_kid and eab_hmac_key_file in [acme] to the values the CA gave you.")
        }
        let binding = try externalAccountBinding.map { try $0.sign(accountJWK: accountKey.jwk, url: directory.newAccount) }
        let payload = Payload(contact: contact.isEmpty ? nil : contact, termsOfServiceAgreed: termsOfServiceAgreed ? true : nil,
                              onlyReturnExisting: onlyReturnExisting ? true : nil, externalAccountBinding: binding)
        let response = try await post(directory.newAccount, payload: try JSONEncoder.plain.encode(payload),
                                      what: onlyReturnExisting ? "look up the account" : "create the account", useJWK: true)
        guard let location = response.header("Location") else {
            throw ACMEError(.badResponse, "The CA at \(host) created an account but sent no Location for it.")
        }
        accountURL = location
        return (location, try decode(Account.self, response, what: "account"))
    }

    /// The account object (POST-as-GET to the account URL, §7.3.3 with an empty payload).
    public func account() async throws -> Account {
        let response = try await post(try requireAccountURL(), payload: nil, what: "fetch the account")
        return try decode(Account.self, response, what: "account")
    }

    /// RFC 8555 §7.3.2: replaces the account's contact URLs.
    public func updateAccount(contact: [String]) async throws -> Account {
        struct Payload: Encodable { var contact: [String] }
        let response = try await post(try requireAccountURL(), payload: try JSONEncoder.plain.encode(Payload(contact: contact)),
                                      what: "update the account's contact")
        return try decode(Account.self, response, what: "account")
    }

    /// RFC 8555 §7.3.6: deactivates the account for good.
    public func deactivateAccount() async throws -> Account {
        let response = try await post(try requireAccountURL(), payload: Array(#"{"status":"deactivated"}"#.utf8),
                                      what: "deactivate the account")
        return try decode(Account.self, response, what: "account")
    }

    /// RFC 8555 §7.3.5: moves the account to `newKey`. The inner JWS is signed by the new key
    /// (with its `jwk`, no nonce), the outer one by the current key; afterwards this client
    /// signs with the new key.
    public func changeKey(to newKey: AccountKey) async throws {
        guard let keyChange = try await directory().keyChange else {
            throw ACMEError(.unsupported, "The CA at \(host) offers no key change (its directory has no keyChange URL).")
        }
        let accountURL = try requireAccountURL()
        let innerHeader = "{\"alg\":\(JSONText.quote(newKey.algorithm.rawValue)),\"jwk\":\(newKey.jwk.canonicalJSON),\"url\":\(JSONText.quote(keyChange))}"
        let innerPayload = "{\"account\":\(JSONText.quote(accountURL)),\"oldKey\":\(accountKey.jwk.canonicalJSON)}"
        let inner = try JWS.flattened(protectedHeader: innerHeader, payload: Array(innerPayload.utf8), sign: newKey.sign)
        _ = try await post(keyChange, payload: inner, what: "change the account key")
        accountKey = newKey
        thumbprint = newKey.thumbprint()
    }

    /// RFC 8555 §7.6: revokes a certificate (DER) signed by this account, with an optional
    /// RFC 5280 reason code.
    public func revoke(certificateDER: [UInt8], reason: Int?) async throws {
        struct Payload: Encodable {
            var certificate: String
            var reason: Int?
        }
        guard let url = try await directory().revokeCert else {
            throw ACMEError(.unsupported, "The CA at \(host) offers no revocation (its directory has no revokeCert URL).")
        }
        _ = try await post(url, payload: try JSONEncoder.plain.encode(Payload(certificate: Base64URL.encode(certificateDER), reason: reason)),
                           what: "revoke the certificate")
    }

    private func requireAccountURL() throws -> String {
        guard let accountURL else { throw ACMEError(.badResponse, "No account URL is known for the CA at \(host).") }
        return accountURL
    }

    /// RFC 8555 §7.4, with the certificate profile (draft-ietf-acme-profiles) and the ARI
    /// `replaces` certificate ID (RFC 9773 §5) when given.
    public func newOrder(identifiers: [Identifier], profile: String? = nil, replaces: String? = nil) async throws -> Order {
        struct Payload: Encodable {
            var identifiers: [Identifier]
            var profile: String?
            var replaces: String?
        }
        let directory = try await directory()
        if let profile {
            guard let offered = directory.meta?.profiles, !offered.isEmpty else {
                throw ACMEError(.unsupported, "The CA at \(host) offers no certificate profiles, so profile '\(profile)' cannot be requested.")
            }
            guard offered[profile] != nil else {
                throw ACMEError(.unsupported, "The CA at \(host) has no profile '\(profile)'; it offers \(offered.keys.sorted().joined(separator: ", ")).")
            }
        }
        let names = identifiers.map(\.value).joined(separator: ", ")
        let payload = Payload(identifiers: identifiers, profile: profile, replaces: replaces)
        let response = try await post(directory.newOrder, payload: try JSONEncoder.plain.encode(payload), what: "create an order for \(names)")
        var order = try decode(Order.self, response, what: "order")
        guard let location = response.header("Location") else {
            throw ACMEError(.badResponse, "The CA at \(host) created an order but sent no Location for it.")
        }
        order.url = location
        // RFC 8555 §7.1.3: one authorization per identifier (fewer when some are reused).
        guard order.authorizations.count <= identifiers.count else {
            throw ACMEError(.badResponse, "The CA at \(host) sent an order for \(identifiers.count) identifier(s) with \(order.authorizations.count) authorizations.")
        }
        return order
    }

    /// RFC 8555 §7.5.2: deactivates a pending authorization of an abandoned order, so it does
    /// not count against the CA's pending-authorization limit.
    public func deactivateAuthorization(at url: String) async throws {
        _ = try await post(url, payload: Array(#"{"status":"deactivated"}"#.utf8), what: "deactivate authorization \(url)")
    }

    /// RFC 9773 §4.2: the CA's suggested renewal window for a certificate, nil when the
    /// directory has no renewalInfo. Unauthenticated GET.
    public func renewalInfo(certificateID: String) async throws -> RenewalInfo? {
        guard let base = try await directory().renewalInfo else { return nil }
        let url = base.hasSuffix("/") ? base + certificateID : base + "/" + certificateID
        let response = try await transport.send(HTTPRequest(method: "GET", url: url))
        remember(response)
        guard response.status == 200 else {
            throw ACMEError(.badResponse, "The CA at \(host) answered HTTP \(response.status) for renewal information \(url).")
        }
        var info = try decode(RenewalInfo.self, response, what: "renewalInfo")
        info.retryAfter = RetryAfter.parse(response.header("Retry-After"))
        return info
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
        // RFC 8288 §3.2: a relative target is resolved against the URL the response came from.
        let alternates = LinkHeader.targets(response.headers["link"] ?? [], relation: "alternate").compactMap { target in
            URL(string: target, relativeTo: URL(string: url))?.absoluteURL.absoluteString
        }
        return CertificateChain(pem: pem, alternates: alternates)
    }

    /// The certificate chain to keep: the CA's default, unless `preferredChain` names an issuer
    /// (common name) that the default chain lacks and one of the alternates has. Every chain
    /// fetched, alternates too, must pass `CertificateChain.validate` for `publicKey` (the
    /// CSR's) and `names` (the order's), or this throws before anything is kept.
    public func downloadCertificate(at url: String, preferredChain: String?, publicKey: Certificate.PublicKey,
                                    names: [String]) async throws -> CertificateChain {
        let main = try await downloadCertificate(at: url)
        try main.validate(publicKey: publicKey, names: names, url: url)
        guard let preferredChain, !main.hasIssuer(commonName: preferredChain) else { return main }
        for alternate in main.alternates {
            let chain = try await downloadCertificate(at: alternate)
            try chain.validate(publicKey: publicKey, names: names, url: alternate)
            if chain.hasIssuer(commonName: preferredChain) {
                logger.info("Using the alternate chain issued by \(preferredChain)")
                return CertificateChain(pem: chain.pem, alternates: main.alternates)
            }
        }
        logger.info("No chain of \(host) is issued by '\(preferredChain)'; keeping the default chain")
        return main
    }

    // MARK: - Requests

    /// One signed POST (§6.2), re-signed with a fresh nonce on badNonce (§6.5).
    func post(_ url: String, payload: (any Sequence<UInt8>)?, what: String, useJWK: Bool = false,
              accept: String? = nil) async throws -> HTTPResponse {
        let body = payload.map { Array($0) }
        var headers = [("Content-Type", "application/jose+json")]
        if let accept { headers.append(("Accept", accept)) }
        // Each kind of retry has its own bound: badNonce re-signs at once, a busy CA is waited for.
        var rejectedNonces = 0, waits = 0
        while true {
            // A cancelled task (SIGINT/SIGTERM) sends nothing more to the CA.
            try Task.checkCancellation()
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
            if problem?.type == .badNonce {
                rejectedNonces += 1
                guard rejectedNonces < ACMEClient.nonceAttempts else {
                    throw ACMEError(.problem, "The CA at \(host) rejected \(ACMEClient.nonceAttempts) nonces in a row while trying to \(what).",
                                    problem: problem)
                }
                logger.debug("badNonce from \(host), retrying with a fresh nonce (attempt \(rejectedNonces))")
                continue
            }
            // 503 or rateLimited with a short Retry-After: wait it out, a few times at most.
            if (response.status == 503 || problem?.type == .rateLimited), waits < ACMEClient.busyRetries,
               let retryAfter = RetryAfter.parse(response.header("Retry-After")), retryAfter <= ACMEClient.busyWaitLimit {
                waits += 1
                logger.info("The CA at \(host) is busy; retrying in \(Int(retryAfter.components.seconds)) s as it asks")
                try await clock.sleep(for: max(retryAfter, .milliseconds(100)))
                continue
            }
            throw failure(response, problem: problem, what: what)
        }
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

    /// Sleeps on the client's clock for Retry-After (capped at 10 s) or the next backoff step
    /// (×1.5 up to 2 s), but never past `deadline`, which throws.
    private func pause(retryAfter: Duration?, backoff: inout Duration, deadline: ContinuousClock.Instant, what: String) async throws {
        let now = clock.now
        guard now < deadline else {
            throw ACMEError(.timeout, "Timed out waiting for \(what).")
        }
        let delay = retryAfter.map { min(max($0, .milliseconds(50)), .seconds(10)) } ?? backoff
        backoff = min(backoff * 1.5, .seconds(2))
        try await clock.sleep(until: min(now + delay, deadline))
    }
}
