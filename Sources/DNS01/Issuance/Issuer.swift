import ACME
import Clocks
import DNS
import FoundationEssentials
import Glibc
import HTTP
import Logging
import Providers
import Storage

/// What to issue: one certificate.
public struct IssueRequest: Sendable {
    public var certName: String
    public var domains: [String]
    public var keyType: KeyType
    /// Use this provider for every name instead of choosing by zone.
    public var provider: String?
    /// More providers that write every record too (`provider = ["a", "b"]`).
    public var alsoProviders: [String] = []
    /// A shell command run after the certificate is stored.
    public var deployHook: String?
    /// Certificate profile to ask the CA for (draft-ietf-acme-profiles).
    public var profile: String?
    /// ARI certificate ID of the certificate this one replaces (RFC 9773 §5).
    public var replaces: String?
    /// The user's own CSR (`--csr`): sent as is; its key never passes through dns01.
    public var csr: CSRInput?
    /// The one challenge type to use (`[[certificate]] challenge`); nil: dns-persist-01 when
    /// offered and served, else dns-01.
    public var challenge: ChallengeKind?

    /// Names too long for `challenge`'s record (nil: dns-01's) are refused here, before any order.
    public init(certName: String? = nil, domains: [String], keyType: KeyType = .ec256, provider: String? = nil,
                alsoProviders: [String] = [], deployHook: String? = nil, profile: String? = nil, replaces: String? = nil,
                challenge: ChallengeKind? = nil) throws {
        self.domains = try IdentifierList.normalize(domains, challenge: challenge)
        self.certName = certName ?? IdentifierList.defaultCertName(for: self.domains)
        self.challenge = challenge
        if certName == nil, self.certName.count > CertificateStore.maximumCertNameLength {
            throw UsageError("The certificate name defaults to the first name, '\(self.certName)', which is \(self.certName.count) characters long, more than the \(CertificateStore.maximumCertNameLength) of a certificate name: give a shorter one with --cert-name.", code: .invalidArgument)
        }
        try CertificateStore.validateCertName(self.certName)
        self.keyType = keyType
        self.provider = provider
        self.alsoProviders = alsoProviders
        self.deployHook = deployHook
        self.profile = profile
        self.replaces = replaces
    }

    /// A request for the names of a CSR the user brings.
    public init(certName: String? = nil, csr: CSRInput, provider: String? = nil, deployHook: String? = nil, profile: String? = nil,
                challenge: ChallengeKind? = nil) throws {
        try self.init(certName: certName, domains: csr.names, provider: provider, deployHook: deployHook, profile: profile, challenge: challenge)
        self.csr = csr
    }
}

/// What came of an issuance.
public struct IssueResult: Sendable, Codable {
    public var certName: String
    public var domains: [String]
    public var live: String
    public var notAfter: Date
    /// Records written (authorizations the CA already held valid need none).
    public var recordsPresented: Int
    public var authorizationsReused: Int
    public var seconds: Double
    /// The deploy hook's failure, if it failed (the certificate is stored all the same).
    public var deployHookError: String?
    /// `dns01 issue` only: how `dns01 run` will renew it (`IssuedRecordStore.afterIssue`).
    public var renewal: IssuedRecordStore.Renewal?
}

/// The issuance porcelain for `dns01 issue` and `dns01 run`: signs in with the stored account
/// and hands the requests to an `IssuanceCoordinator`, which runs one job per certificate
/// through the state machine of `JobPhase`. One certificate's failure does not stop the others.
public final class Issuer: Sendable {
    public let config: Configuration
    let events: EventSink
    let logger: Logger
    let deployer: ChallengeDeployer
    let transport: any HTTPTransport
    let clock: any DeadlineClock
    /// Obtain without storing or running deploy hooks (`dns01 run --dry-run`).
    let dryRun: Bool
    /// Where the account, the journal and every stored version go.
    let state: any StateStore

    public init(config: Configuration, events: @escaping EventSink, logger: Logger = Logger(label: "dns01"), dryRun: Bool = false,
                state: any StateStore) {
        self.config = config
        self.dryRun = dryRun
        self.events = events
        self.logger = logger
        self.state = state
        clock = SystemClock()
        deployer = ChallengeDeployer(config: config, events: events, clock: clock, journal: state.journalBackend)
        transport = CurlTransport(caBundle: config.acme.caBundle, userAgent: "dns01")
    }

    /// Signs in with the stored account (registering one the first time). A dry run's state
    /// keeps nothing shared; its account is the configured storage's all the same.
    public func client() async throws -> ACMEClient {
        try await AccountStore(config: config.acme, storage: config.storage, state: dryRun ? nil : state).client(transport: transport, logger: logger)
    }

    /// One certificate; throws its failure.
    public func issue(_ request: IssueRequest) async throws -> IssueResult {
        for provider in [request.provider].compactMap({ $0 }) + request.alsoProviders
        where !config.providers.contains(where: { $0.name == provider }) {
            throw UsageError("Provider '\(provider)' is not a configured [[provider]].", code: .notConfigured)
        }
        try await deployer.checkStateDirectory()
        // The lock `dns01 run` takes too: two processes never work on (and store) one certificate.
        let lock = try CertificateLock(stateDir: config.acme.stateDir, name: request.certName)
        defer { lock.release() }
        // The lock other machines honour too (shared state): none works on it meanwhile.
        let held = try await state.lockShared([request.certName], waitSeconds: nil)
        guard held.locked.contains(request.certName) else {
            throw OperationError(held.refusals[request.certName] ?? "Another machine is working on certificate \(request.certName).")
        }
        let result: Result<IssueResult, any Error>
        do {
            result = try await issueAll([request])[0]
        } catch {
            await state.releaseShared(held.locked)
            throw error
        }
        await state.releaseShared(held.locked)
        return try result.get()
    }

    /// Many certificates at once (in windows of `IssuanceCoordinator.defaultWindow`); one result
    /// per request, in order.
    public func issueAll(_ requests: [IssueRequest]) async throws -> [Result<IssueResult, any Error>] {
        await deployer.cleanupOrphans()
        let client = try await self.client()
        // At most `IssuanceCoordinator.defaultWindow` certificates in flight: a larger run goes
        // window by window, one presentation and one propagation wait each.
        return try await IssuanceCoordinator.runWindowed(requests, environment: .init(
            config: config, client: client, dns: deployer, store: CertificateStore(state: state),
            clock: client.clock, events: events, dryRun: dryRun))
    }
}

/// Maps concurrently, at most `limit` at a time, keeping the order of `items`.
func concurrentMap<T: Sendable, R: Sendable>(
    _ items: [T], limit: Int = .max, _ transform: @escaping @Sendable (T) async throws -> R
) async throws -> [R] {
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        func start() {
            let index = next
            let item = items[index]
            group.addTask { (index, try await transform(item)) }
            next += 1
        }
        while next < items.count && next < limit { start() }
        for try await (index, result) in group {
            results[index] = result
            if next < items.count { start() }
        }
        return results.map { $0! }
    }
}

