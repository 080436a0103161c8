import ACME
import DNS
import Foundation
import Logging
import Providers
import X509

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

    public init(certName: String? = nil, domains: [String], keyType: KeyType = .ec256, provider: String? = nil,
                alsoProviders: [String] = [], deployHook: String? = nil, profile: String? = nil, replaces: String? = nil) throws {
        self.domains = try IdentifierList.normalize(domains)
        self.certName = certName ?? IdentifierList.defaultCertName(for: self.domains)
        try CertificateStore.validateCertName(self.certName)
        self.keyType = keyType
        self.provider = provider
        self.alsoProviders = alsoProviders
        self.deployHook = deployHook
        self.profile = profile
        self.replaces = replaces
    }

    /// A request for the names of a CSR the user brings.
    public init(certName: String? = nil, csr: CSRInput, provider: String? = nil, deployHook: String? = nil, profile: String? = nil) throws {
        try self.init(certName: certName, domains: csr.names, provider: provider, deployHook: deployHook, profile: profile)
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
}

/// The issuance flow (DESIGN.md "Data flow") for one certificate or a batch of them, porcelain
/// over the ACME plumbing and the challenge deployer: every order created concurrently, every
/// record of every certificate presented at once (one provider call per zone), one wait at the
/// authoritative servers, every challenge answered at once, each certificate finalized and
/// stored as soon as it is ready; records always cleaned up. One certificate's failure does not
/// stop the others.
public final class Issuer: Sendable {
    public let config: Configuration
    let events: EventSink
    let logger: Logger
    let deployer: ChallengeDeployer
    let transport: any HTTPTransport

    public init(config: Configuration, events: @escaping EventSink, logger: Logger = Logger(label: "dns01")) {
        self.config = config
        self.events = events
        self.logger = logger
        deployer = ChallengeDeployer(config: config, events: events)
        transport = CurlTransport(caBundle: config.acme.caBundle, userAgent: "dns01")
    }

    /// Signs in with the stored account (registering one the first time).
    public func client() async throws -> ACMEClient {
        try await AccountStore(config: config.acme).client(transport: transport, logger: logger)
    }

    /// One certificate; throws its failure.
    public func issue(_ request: IssueRequest) async throws -> IssueResult {
        for provider in [request.provider].compactMap({ $0 }) + request.alsoProviders
        where !config.providers.contains(where: { $0.name == provider }) {
            throw UsageError("Provider '\(provider)' is not a configured [[provider]].")
        }
        try await deployer.checkStateDirectory()
        // The lock `dns01 run` takes too: two processes never work on (and store) one certificate.
        let lock = try CertificateLock(stateDir: config.acme.stateDir, name: request.certName)
        defer { lock.release() }
        return try await issueAll([request])[0].get()
    }

    /// Many certificates at once; one result per request, in order.
    public func issueAll(_ requests: [IssueRequest]) async throws -> [Result<IssueResult, any Error>] {
        let start = ContinuousClock.now
        let deployer = self.deployer
        await deployer.cleanupOrphans()
        let client = try await self.client()
        let thumbprint = await client.keyAuthorizationThumbprint()
        let limit = max(1, config.acme.concurrency)

        // 1. Orders, authorizations and DNS discovery, concurrently (bounded).
        var prepared: [Result<Prepared, any Error>] = try await concurrentMap(requests, limit: limit) { request in
            do {
                return .success(try await self.prepare(request, client: client, thumbprint: thumbprint))
            } catch {
                return .failure(error)
            }
        }
        try Task.checkCancellation()

        // 1b. Values a single-value provider cannot hold side by side: validated first, one
        //     round at a time (nothing happens here without such a provider).
        prepared = try await validateEarlyRounds(prepared, client: client)

        let ordered = prepared

        // 2. Every record of every certificate, presented at once: one provider call per zone.
        let allRecords = prepared.compactMap { try? $0.get() }.flatMap { $0.challenges.map(\.record) }
        var presented: [ChallengeRecord] = []
        var answered: Set<Int> = []
        do {
            let outcomes = try await deployer.presentEach(allRecords)
            presented = outcomes.flatMap(\.records)
            for outcome in outcomes {
                guard let error = outcome.error else { continue }
                let failed = Set(outcome.records)
                for index in prepared.indices {
                    if case .success(let item) = prepared[index], item.challenges.contains(where: { failed.contains($0.record) }) {
                        prepared[index] = .failure(error)
                    }
                }
            }

            // 3. Wait once for every record of every certificate. After each polling round, a
            //    certificate whose names no server still lacks goes on at once: its challenges
            //    are answered while the wait for slower names goes on.
            (prepared, answered) = try await validateAll(prepared, records: presented, client: client, limit: max(limit, 64))
        } catch {
            await deployer.cleanup(presented)
            throw error
        }

        // 4. Records are no longer needed: remove them while the CA issues. Orders given up on
        //    before their challenges were answered have their pending authorizations deactivated
        //    (RFC 8555 §7.5.2), so they do not count against the CA's limit on pending
        //    authorizations. Answered ones are valid or invalid already and stay as they are.
        let abandoned = ordered.indices.compactMap { index -> Prepared? in
            guard !answered.contains(index), case .success(let item) = ordered[index], case .failure = prepared[index] else { return nil }
            return item
        }
        let events = self.events
        // On SIGINT/SIGTERM (the task cancelled) the records still go, and the CA hears nothing
        // more: no deactivations.
        let cleanup = Task.detached {
            await deployer.cleanup(presented)
            guard !abandoned.isEmpty, !Task.isCancelled else { return }
            let urls = Set(abandoned.flatMap { $0.challenges.map(\.authorization.url) })
            var deactivated = 0
            for url in urls.sorted() where (try? await client.deactivateAuthorization(at: url)) != nil { deactivated += 1 }
            events(.step("deactivated \(deactivated) of \(urls.count) pending authorization(s) of \(abandoned.count) abandoned order(s)"))
        }
        let results: [Result<IssueResult, any Error>]
        do {
            results = try await concurrentMap(prepared, limit: limit) { item -> Result<IssueResult, any Error> in
                switch item {
                case .failure(let error):
                    return .failure(error)
                case .success(let ready):
                    do {
                        return .success(try await self.finalizeAndStore(ready, client: client, start: start))
                    } catch {
                        return .failure(error)
                    }
                }
            }
        } catch {
            await Self.finish(cleanup)
            throw error
        }
        await Self.finish(cleanup)
        return results
    }

    /// Waits for the cleanup task, cancelling it with the caller: its DNS cleanup runs to the
    /// end all the same (ChallengeDeployer.cleanup is detached), what is left is CA requests.
    private static func finish(_ cleanup: Task<Void, Never>) async {
        await withTaskCancellationHandler { await cleanup.value } onCancel: { cleanup.cancel() }
    }

    /// A certificate whose order exists and whose records are known.
    struct Prepared: Sendable {
        var request: IssueRequest
        var order: Order
        var challenges: [PendingChallenge]
        var reused: Int
        /// Challenges validated in an earlier round (single-value providers).
        var validatedEarly = 0
    }

    struct PendingChallenge: Sendable {
        var authorization: Authorization
        var challenge: Challenge
        var record: ChallengeRecord
    }

    private func prepare(_ request: IssueRequest, client: ACMEClient, thumbprint: String) async throws -> Prepared {
        let deployer = self.deployer
        // DNS discovery (CNAMEs, zones, providers) runs while the CA creates the order.
        let providers = [request.provider].compactMap { $0 } + request.alsoProviders
        let planning = Task { try await deployer.targets(for: request.domains, providers: providers) }
        let order: Order
        let authorizations: [Authorization]
        do {
            // `replaces` only to a CA that speaks ARI (RFC 9773 §5).
            let ari = try await client.directory().renewalInfo != nil
            order = try await client.newOrder(identifiers: request.domains.map { Identifier.dns($0) },
                                              profile: request.profile, replaces: ari ? request.replaces : nil)
            authorizations = try await concurrentMap(order.authorizations) { try await client.authorization(at: $0) }
        } catch {
            planning.cancel()
            throw CertificateError(request.certName, error)
        }
        let targets: [String: ChallengeTarget]
        do {
            targets = try await planning.value
        } catch {
            throw CertificateError(request.certName, error)
        }
        events(.step("\(request.certName): order created for \(request.domains.joined(separator: ", "))"))

        var challenges: [PendingChallenge] = []
        var reused = 0
        for authorization in authorizations {
            let identifier = authorization.identifier.value
            switch authorization.status {
            case .valid:
                reused += 1
                continue
            case .pending:
                break
            default:
                throw CertificateError(request.certName, OperationError("The CA's authorization for \(identifier) is \(authorization.status.rawValue), not pending."))
            }
            guard let challenge = authorization.challenges.first(where: { $0.type == "dns-01" }), let token = challenge.token else {
                throw CertificateError(request.certName, OperationError("The CA offers no dns-01 challenge for \(identifier)."))
            }
            let key = authorization.wildcard == true ? "*." + identifier : identifier
            guard let target = targets[key] ?? targets[identifier] ?? targets.values.first(where: { $0.domain == identifier }) else {
                throw CertificateError(request.certName, OperationError("The CA asked to validate \(identifier), which is not among the names requested."))
            }
            let record = ChallengeRecord(target: target, value: KeyAuthorization.dns01Value(token: token, thumbprint: thumbprint))
            challenges.append(PendingChallenge(authorization: authorization, challenge: challenge, record: record))
        }
        if reused > 0 { events(.step("\(request.certName): \(reused) authorization(s) already valid at the CA, no record needed")) }
        return Prepared(request: request, order: order, challenges: challenges, reused: reused)
    }

    /// One propagation wait for all records; each certificate's challenges are answered as soon
    /// as all of its names are visible at every nameserver. A wait that fails (timeout) fails
    /// the certificates still waiting, with its message.
    private func validateAll(_ prepared: [Result<Prepared, any Error>], records: [ChallengeRecord], client: ACMEClient,
                             limit: Int) async throws -> ([Result<Prepared, any Error>], answered: Set<Int>) {
        var results = prepared
        var answered: Set<Int> = []
        var waiting: [Int: Set<String>] = [:]
        for (index, item) in prepared.enumerated() {
            if case .success(let ready) = item, !ready.challenges.isEmpty {
                waiting[index] = Set(ready.challenges.map(\.record.target.recordName))
            }
        }
        guard !waiting.isEmpty else { return (results, []) }
        let live = Set(records)
        let waitRecords = prepared.compactMap { try? $0.get() }.flatMap(\.challenges).map(\.record).filter { live.contains($0) }
        let (rounds, continuation) = AsyncStream<Set<String>>.makeStream()
        let deployer = self.deployer
        return try await withThrowingTaskGroup(of: (Int, Result<Prepared, any Error>)?.self) { group in
            group.addTask {
                defer { continuation.finish() }
                do {
                    try await deployer.waitUntilVisible(waitRecords) { event in
                        if case .round(let pending, _, _) = event { continuation.yield(Set(pending.map(\.name))) }
                    }
                    return nil
                } catch {
                    return (-1, .failure(error))
                }
            }
            func start(_ index: Int) {
                guard case .success(let ready) = prepared[index] else { return }
                group.addTask {
                    do {
                        try await self.answer(ready, client: client)
                        return (index, .success(ready))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            for await pendingNames in rounds {
                for (index, names) in waiting where names.isDisjoint(with: pendingNames) {
                    waiting[index] = nil
                    answered.insert(index)
                    start(index)
                }
            }
            for try await outcome in group {
                guard let (index, result) = outcome else { continue }
                if index >= 0 {
                    results[index] = result
                } else if case .failure(let error) = result {
                    if error is CancellationError { throw error }
                    for (stuck, _) in waiting {
                        let name = (try? prepared[stuck].get())?.request.certName ?? "?"
                        results[stuck] = .failure(CertificateError(name, error))
                    }
                    waiting = [:]
                }
            }
            try Task.checkCancellation()
            return (results, answered)
        }
    }

    /// Answers a certificate's challenges (its records are visible) and waits for the CA to
    /// validate them.
    private func answer(_ ready: Prepared, client: ACMEClient) async throws {
        do {
            let deadline = ContinuousClock.now + config.acme.orderTimeout
            _ = try await concurrentMap(ready.challenges) { item in try await client.respond(to: item.challenge) }
            events(.step("\(ready.request.certName): answered \(ready.challenges.count) challenge(s)"))
            _ = try await withinOrderTimeout(deadline) {
                try await concurrentMap(ready.challenges) { item in
                    try await client.waitForAuthorization(at: item.authorization.url, deadline: deadline)
                }
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw CertificateError(ready.request.certName, error)
        }
        events(.step("\(ready.request.certName): all authorizations valid"))
    }

    /// Runs `body`; a timeout at `deadline` says which setting bounds it.
    private func withinOrderTimeout<T: Sendable>(_ deadline: ContinuousClock.Instant,
                                                 _ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ACMEError where error.code == .timeout && ContinuousClock.now >= deadline {
            var named = error
            named.message = String(error.message.dropLast()) + "; [acme] order_timeout is \(format(config.acme.orderTimeout))."
            throw named
        }
    }

    private func finalizeAndStore(_ ready: Prepared, client: ACMEClient, start: ContinuousClock.Instant) async throws -> IssueResult {
        let request = ready.request
        do {
            let csr: [UInt8], keyPEM: String?
            if let provided = request.csr {
                (csr, keyPEM) = (provided.der, nil)
            } else {
                let (key, pem) = try request.keyType.generate()
                (csr, keyPEM) = (try CSRBuilder.make(names: request.domains, privateKey: key), pem)
            }
            let deadline = ContinuousClock.now + config.acme.orderTimeout
            var final = try await client.finalize(ready.order, csrDER: csr)
            if final.status != .valid {
                final = try await withinOrderTimeout(deadline) { try await client.waitForOrder(at: ready.order.url, deadline: deadline) }
            }
            guard let certificateURL = final.certificate else {
                throw OperationError("The CA marked the order for \(request.domains.joined(separator: ", ")) valid but gave no certificate URL.")
            }
            // The chain is checked against the CSR's key and the ordered names before anything
            // is written: a bad chain leaves live/ as it was.
            let publicKey: Certificate.PublicKey
            do { publicKey = try CertificateSigningRequest(derEncoded: csr).publicKey } catch {
                throw OperationError("The certificate request for \(request.domains.joined(separator: ", ")) cannot be read back.")
            }
            let chain = try await client.downloadCertificate(at: certificateURL, preferredChain: config.acme.preferredChain,
                                                             publicKey: publicKey, names: request.domains)
            let store = CertificateStore(stateDir: config.acme.stateDir)
            let live = try await store.save(name: request.certName, privateKeyPEM: keyPEM, chainPEM: chain.pem)
            let notAfter = try store.currentCertificate(request.certName)?.notValidAfter ?? Date()
            events(.step("\(request.certName): certificate stored in \(live) (valid until \(notAfter.formatted(.iso8601)))"))
            var result = IssueResult(certName: request.certName, domains: request.domains, live: live,
                                     notAfter: notAfter, recordsPresented: ready.challenges.count + ready.validatedEarly,
                                     authorizationsReused: ready.reused, seconds: seconds(ContinuousClock.now - start),
                                     deployHookError: nil)
            if let hook = request.deployHook {
                result.deployHookError = await DeployHook.run(hook, certName: request.certName, live: live,
                                                              domains: request.domains, events: events)
            }
            return result
        } catch let error as CertificateError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw CertificateError(request.certName, error)
        }
    }
}

/// A failure that belongs to one certificate of a batch.
public struct CertificateError: Error, Sendable, CustomStringConvertible {
    public var certName: String
    public var underlying: any Error
    public init(_ certName: String, _ underlying: any Error) {
        if let nested = underlying as? CertificateError {
            self = nested
        } else {
            self.certName = certName
            self.underlying = underlying
        }
    }
    public var description: String { describe(underlying) }
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

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
