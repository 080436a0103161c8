import Foundation
import HTTP
import ScriptedHTTP
import Synchronization

/// A whole RFC 8555 flow scripted on a `ScriptedTransport`, for unit tests of the ACME client
/// and of the issuance flow: directory, newNonce, newAccount, newOrder for N identifiers, one
/// authorization per identifier with its challenges, challenge answers, authorization and
/// order polling, finalize with the CSR, and a real certificate chain for the CSR's key and
/// names (`ScriptedPKI`), so `CertificateChain.validate` passes.
///
/// It keeps just enough state to answer in the order a client asks: an authorization stays
/// `pending` until its challenge is answered, then for `Options.pendingPolls` more polls, then
/// is `valid` (or `invalid` for a name in `Options.failing`); an order is `pending`, `ready`
/// once every authorization is valid, `processing` for `Options.processingPolls` polls after
/// finalize, then `valid`. It checks nothing a real CA checks (no DNS, no signatures): faults
/// are scripted on `transport` with `once` (a badNonce, a 503 with Retry-After) at the URLs
/// below. Integration tests still run Pebble.
///
/// ```swift
/// let ca = try ScriptedCA(options: .init(pendingPolls: 2, retryAfter: 3))
/// let client = ACMEClient(directoryURL: ca.directoryURL, transport: ca.transport, accountKey: key, clock: clock)
/// ca.transport.once("POST", ca.newOrderURL, .problem("badNonce", detail: "stale nonce"))
/// ```
public final class ScriptedCA: Sendable {
    public struct Options: Sendable {
        /// `pending` answers to polls of an authorization after its challenge was answered.
        public var pendingPolls: Int
        /// `processing` answers to polls of an order after finalize (0: finalize answers `valid`).
        public var processingPolls: Int
        /// Retry-After (seconds) sent with a pending authorization and a processing order.
        public var retryAfter: Int?
        /// Challenge types offered per authorization, in order; a wildcard gets the DNS ones only.
        public var challengeTypes: [String]
        /// Names (as ordered, "*.a.test" for a wildcard) whose validation fails, with the
        /// detail of the `incorrectResponse` problem.
        public var failing: [String: String]
        /// `meta.externalAccountRequired`: newAccount without a binding is refused.
        public var externalAccountRequired: Bool
        /// `meta.profiles` (draft-ietf-acme-profiles), when set.
        public var profiles: [String: String]?
        /// `meta.caaIdentities`, when set.
        public var caaIdentities: [String]?
        /// The ARI window (RFC 9773) served for every certificate ID, when set; the directory
        /// then has `renewalInfo`.
        public var renewalWindow: (start: Date, end: Date)?
        /// An order for a name that an earlier order of the account already has an
        /// authorization for (pending or valid, not deactivated or invalid) gets that
        /// authorization again, as Let's Encrypt does.
        public var reuseAuthorizations = false
        /// `issuer-domain-names` of the dns-persist-01 challenges (draft-ietf-acme-dns-persist).
        public var issuerDomainNames = ["ca.test"]
        /// After this many orders, every new order is refused with `rateLimited` (429, like
        /// Let's Encrypt's new orders per account) and `rateLimitRetryAfter` as Retry-After.
        public var newOrderLimit: Int?
        public var rateLimitRetryAfter: String?

        public init(pendingPolls: Int = 1, processingPolls: Int = 1, retryAfter: Int? = nil, challengeTypes: [String] = ["dns-01"],
                    failing: [String: String] = [:], externalAccountRequired: Bool = false, profiles: [String: String]? = nil,
                    caaIdentities: [String]? = nil, renewalWindow: (start: Date, end: Date)? = nil) {
            self.pendingPolls = pendingPolls
            self.processingPolls = processingPolls
            self.retryAfter = retryAfter
            self.challengeTypes = challengeTypes
            self.failing = failing
            self.externalAccountRequired = externalAccountRequired
            self.profiles = profiles
            self.caaIdentities = caaIdentities
            self.renewalWindow = renewalWindow
        }
    }

    public let transport: ScriptedTransport
    public let options: Options
    /// "ca.test"
    public let host: String
    /// The issuing hierarchy: the chain served is leaf + intermediate; `pki.rootPEM` is the trust anchor.
    public let pki: ScriptedPKI
    /// "https://ca.test/dir"
    public let directoryURL: String
    /// Every other URL is under this: "https://ca.test/acme".
    public let base: String
    public var newNonceURL: String { base + "/new-nonce" }
    public var newAccountURL: String { base + "/new-acct" }
    public var newOrderURL: String { base + "/new-order" }
    public var revokeCertURL: String { base + "/revoke-cert" }
    public var keyChangeURL: String { base + "/key-change" }
    public var renewalInfoURL: String { base + "/renewal-info" }
    /// The one account's URL (the `kid` of every request after newAccount).
    public var accountURL: String { base + "/acct/1" }
    public func orderURL(_ order: Int) -> String { base + "/order/\(order)" }
    public func finalizeURL(_ order: Int) -> String { base + "/order/\(order)/finalize" }
    public func certificateURL(_ order: Int) -> String { base + "/cert/\(order)" }
    /// The authorization for the `index`th identifier (from 0) of order `order` (from 1).
    public func authorizationURL(order: Int, index: Int) -> String { base + "/authz/\(order)/\(index)" }
    public func challengeURL(order: Int, index: Int, type: String = "dns-01") -> String { base + "/chall/\(order)/\(index)/\(type)" }

    let engine: Engine

    public init(host: String = "ca.test", options: Options = Options()) throws {
        transport = ScriptedTransport()
        self.options = options
        self.host = host
        pki = try ScriptedPKI(name: host)
        directoryURL = "https://\(host)/dir"
        base = "https://\(host)/acme"
        engine = Engine(base: base, options: options, pki: pki)

        transport.on("GET", directoryURL, .json(directoryJSON()))
        transport.on("HEAD", newNonceURL, .empty(status: 200, headers: ["cache-control": "no-store"]))
        transport.on("GET", newNonceURL, .empty(status: 204, headers: ["cache-control": "no-store"]))
        let engine = engine
        transport.on("POST", newAccountURL) { try engine.newAccount($0) }
        transport.on("POST", newOrderURL) { try engine.newOrder($0) }
        transport.on("POST", revokeCertURL) { _ in .empty(status: 200) }
        transport.on("POST", keyChangeURL) { _ in .json(#"{"status":"valid"}"#) }
        transport.otherwise { try engine.resource($0) }
    }

    /// The orders created so far (the next one is `orders + 1`).
    public var orders: Int { engine.state.withLock { $0.orders.count } }

    /// The certificates issued so far, PEM chains (leaf + intermediate) by order number.
    public var issued: [Int: String] { engine.state.withLock { $0.orders.compactMapValues(\.chain) } }

    /// The dns-01 tokens handed out, by authorization URL.
    public var tokens: [String: String] {
        engine.state.withLock { state in
            state.authorizations.mapValues { $0.tokens["dns-01"] ?? "" }
        }
    }

    func directoryJSON() -> String {
        var members = [
            "newNonce": newNonceURL, "newAccount": newAccountURL, "newOrder": newOrderURL,
            "revokeCert": revokeCertURL, "keyChange": keyChangeURL,
        ] as [String: Any]
        if options.renewalWindow != nil { members["renewalInfo"] = renewalInfoURL }
        var meta: [String: Any] = ["termsOfService": "https://\(host)/terms"]
        if options.externalAccountRequired { meta["externalAccountRequired"] = true }
        if let profiles = options.profiles { meta["profiles"] = profiles }
        if let caa = options.caaIdentities { meta["caaIdentities"] = caa }
        members["meta"] = meta
        return Engine.json(members)
    }
}
