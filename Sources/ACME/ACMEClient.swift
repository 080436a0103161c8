import Clocks
import FoundationEssentials
import Glibc
import HTTP
import Logging

/// An RFC 8555 client for one account at one CA: its state (directory, account key and URL)
/// and the one `SignedRequestSender` every request goes through (nonces, JWS, badNonce and
/// busy retries, problem documents). The operations live with their resources, as extensions:
/// `Directory.swift`, `Account.swift`, `Order.swift`, `Authorization.swift`, `Challenge.swift`,
/// `Certificate.swift`, `RenewalInfo.swift` (STYLE.md 1).
public actor ACMEClient {
    public let directoryURL: String
    public internal(set) var accountKey: AccountKey
    let logger: Logger
    /// Every wait (polling, a busy CA's Retry-After) and the "now" its deadline is checked
    /// against: `SystemClock` in the program, a `ManualClock` in tests (STYLE.md 14).
    public nonisolated let clock: any DeadlineClock
    public internal(set) var accountURL: String?
    var cachedDirectory: Directory?
    var thumbprint: String
    let sender: SignedRequestSender

    public init(directoryURL: String, transport: any HTTPTransport, accountKey: AccountKey,
                accountURL: String? = nil, logger: Logger = Logger(label: "dns01.acme"),
                clock: any DeadlineClock = SystemClock()) {
        self.directoryURL = directoryURL
        self.accountKey = accountKey
        self.accountURL = accountURL
        self.logger = logger
        self.clock = clock
        thumbprint = accountKey.thumbprint()
        sender = SignedRequestSender(transport: transport, clock: clock, logger: logger, host: CurlTransport.host(of: directoryURL))
    }

    /// The account key's JWK thumbprint (RFC 7638), the second half of key authorizations (§8.1).
    public func keyAuthorizationThumbprint() -> String { thumbprint }

    /// "host[:port]" of the CA, for messages.
    nonisolated var host: String { sender.host }

    /// One signed POST through the sender, as the account: with its URL as `kid`, or its JWK
    /// (`useJWK`, newAccount §7.3).
    func post(_ url: String, payload: [UInt8]?, what: String, useJWK: Bool = false, accept: String? = nil) async throws -> HTTPResponse {
        let newNonce = try await directory().newNonce
        let signer = SignedRequestSender.Signer(key: accountKey, kid: useJWK ? nil : accountURL)
        return try await sender.post(url, payload: payload, signer: signer, newNonceURL: newNonce, what: what, accept: accept)
    }

    func requireAccountURL() throws -> String {
        guard let accountURL else { throw ACMEError(.badResponse, "No account URL is known for the CA at \(host).") }
        return accountURL
    }
}
