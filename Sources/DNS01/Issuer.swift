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

    public init(certName: String? = nil, domains: [String], keyType: KeyType = .ec256, provider: String? = nil) throws {
        self.domains = try IdentifierList.normalize(domains)
        self.certName = certName ?? IdentifierList.defaultCertName(for: self.domains)
        try CertificateStore.validateCertName(self.certName)
        self.keyType = keyType
        self.provider = provider
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
}

/// The issuance flow (DESIGN.md "Data flow"), porcelain over the ACME plumbing and the
/// challenge deployer: order, present every record at once, wait once at the authoritative
/// servers, answer every challenge at once, finalize, store; records always cleaned up.
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

    public func issue(_ request: IssueRequest) async throws -> IssueResult {
        let start = ContinuousClock.now
        if let provider = request.provider, !config.providers.contains(where: { $0.name == provider }) {
            throw UsageError("Provider '\(provider)' is not a configured [[provider]].")
        }
        // DNS discovery (CNAMEs, zones, providers) runs while the CA creates the order.
        let deployer = self.deployer
        let planning = Task { try await deployer.targets(for: request.domains, provider: request.provider) }
        let client: ACMEClient
        let order: Order
        let authorizations: [Authorization]
        do {
            client = try await self.client()
            order = try await client.newOrder(identifiers: request.domains.map { Identifier.dns($0) })
            events(.step("order created for \(request.domains.joined(separator: ", "))"))
            authorizations = try await concurrentMap(order.authorizations) { try await client.authorization(at: $0) }
        } catch {
            planning.cancel()
            throw error
        }
        let targets = try await planning.value

        let thumbprint = await client.keyAuthorizationThumbprint()
        var records: [ChallengeRecord] = []
        var pending: [(authorization: Authorization, challenge: Challenge)] = []
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
                throw OperationError("The CA's authorization for \(identifier) is \(authorization.status.rawValue), not pending.")
            }
            guard let challenge = authorization.challenges.first(where: { $0.type == "dns-01" }), let token = challenge.token else {
                throw OperationError("The CA offers no dns-01 challenge for \(identifier).")
            }
            let key = authorization.wildcard == true ? "*." + identifier : identifier
            guard let target = targets[key] ?? targets[identifier] ?? targets.values.first(where: { $0.domain == identifier }) else {
                throw OperationError("The CA asked to validate \(identifier), which is not among the names requested.")
            }
            records.append(ChallengeRecord(target: target, value: KeyAuthorization.dns01Value(token: token, thumbprint: thumbprint)))
            pending.append((authorization, challenge))
        }
        if reused > 0 { events(.step("\(reused) authorization(s) already valid at the CA, no record needed")) }

        do {
            try await deployer.present(records)
            try await deployer.waitUntilVisible(records)
            let deadline = ContinuousClock.now + .seconds(300)
            _ = try await concurrentMap(pending) { item in try await client.respond(to: item.challenge) }
            events(.step("answered \(pending.count) challenge(s)"))
            _ = try await concurrentMap(pending) { item in
                try await client.waitForAuthorization(at: item.authorization.url, deadline: deadline)
            }
        } catch {
            await deployer.cleanup(records)
            throw error
        }
        events(.step("all \(authorizations.count) authorization(s) valid"))

        // The records are no longer needed: remove them while the CA issues.
        let cleanup = Task { await deployer.cleanup(records) }
        do {
            let stored = try await finalizeAndStore(order: order, request: request, client: client)
            _ = await cleanup.value
            return IssueResult(certName: request.certName, domains: request.domains, live: stored.live,
                               notAfter: stored.notAfter, recordsPresented: records.count,
                               authorizationsReused: reused, seconds: seconds(ContinuousClock.now - start))
        } catch {
            _ = await cleanup.value
            throw error
        }
    }

    private func finalizeAndStore(order: Order, request: IssueRequest, client: ACMEClient) async throws -> (live: String, notAfter: Date) {
        let (key, keyPEM) = try request.keyType.generate()
        let csr = try CSRBuilder.make(names: request.domains, privateKey: key)
        let deadline = ContinuousClock.now + .seconds(300)
        var final = try await client.finalize(order, csrDER: csr)
        if final.status != .valid {
            final = try await client.waitForOrder(at: order.url, deadline: deadline)
        }
        guard let certificateURL = final.certificate else {
            throw OperationError("The CA marked the order for \(request.domains.joined(separator: ", ")) valid but gave no certificate URL.")
        }
        let chain = try await client.downloadCertificate(at: certificateURL)
        let store = CertificateStore(stateDir: config.acme.stateDir)
        let live = try store.save(name: request.certName, privateKeyPEM: keyPEM, chainPEM: chain.pem)
        let certificate = try store.currentCertificate(request.certName)
        let notAfter = certificate?.notValidAfter ?? Date()
        events(.step("certificate stored in \(live) (valid until \(ISO8601DateFormatter().string(from: notAfter)))"))
        return (live, notAfter)
    }
}

/// Maps concurrently, keeping the order of `items`.
func concurrentMap<T: Sendable, R: Sendable>(
    _ items: [T], _ transform: @escaping @Sendable (T) async throws -> R
) async throws -> [R] {
    try await withThrowingTaskGroup(of: (Int, R).self) { group in
        for (index, item) in items.enumerated() {
            group.addTask { (index, try await transform(item)) }
        }
        var results = [R?](repeating: nil, count: items.count)
        for try await (index, result) in group { results[index] = result }
        return results.map { $0! }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}
