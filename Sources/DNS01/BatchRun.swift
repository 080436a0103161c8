import ACME
import Foundation
import Providers
import Storage

/// `dns01 run`: every `[[certificate]]` that is due, issued together (one wait for all), each
/// under a lock so two runs never work on one certificate. One certificate's failure does not
/// stop the others. Each outcome goes into the certificate's `RunHistory`; a certificate whose
/// last attempts failed is left alone until its back-off has passed (unless forced).
public struct BatchRun: Sendable {
    public struct Item: Sendable, Codable {
        public var name: String
        public var domains: [String]
        /// "issued", "skipped" (not due), "failed" or "backing-off" (due, but its last attempts
        /// failed and the back-off has not passed; `error` says until when and why).
        public var status: String
        public var reason: String?
        public var error: String?
        public var notAfter: Date?
        public var seconds: Double?
        public var deployHookError: String?
        /// For "backing-off": when the next attempt may start, and how many attempts failed in a row.
        public var retryAt: Date?
        public var consecutiveFailures: Int?
    }

    public struct Summary: Sendable, Codable {
        public var certificates: [Item]
        public var issued: Int { certificates.filter { $0.status == "issued" }.count }
        public var failed: Int { certificates.filter { $0.status == "failed" }.count }
        public var skipped: Int { certificates.filter { $0.status == "skipped" }.count }
        public var backingOff: Int { certificates.filter { $0.status == "backing-off" }.count }
        public var seconds: Double

        enum CodingKeys: String, CodingKey { case certificates, issued, failed, skipped, backingOff, seconds }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(certificates, forKey: .certificates)
            try container.encode(issued, forKey: .issued)
            try container.encode(failed, forKey: .failed)
            try container.encode(skipped, forKey: .skipped)
            try container.encode(backingOff, forKey: .backingOff)
            try container.encode(seconds, forKey: .seconds)
        }
        public init(certificates: [Item], seconds: Double) {
            self.certificates = certificates
            self.seconds = seconds
        }
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            certificates = try container.decode([Item].self, forKey: .certificates)
            seconds = try container.decode(Double.self, forKey: .seconds)
        }
    }

    public let config: Configuration
    let events: EventSink

    public init(config: Configuration, events: @escaping EventSink) {
        self.config = config
        self.events = events
    }

    public func run(force: Bool) async throws -> Summary {
        let start = ContinuousClock.now
        let issuer = Issuer(config: config, events: events)
        // Records a killed run left behind are removed first, whether or not anything is due.
        try await issuer.deployer.checkStateDirectory()
        await issuer.deployer.cleanupOrphans()
        var decisions = RenewalPlan.decide(config, force: force)
        decisions = try await consultRenewalInfo(decisions, issuer: issuer)
        let now = Date()
        let history = RunHistoryStore(stateDir: config.acme.stateDir)
        var items = decisions.map { decision in
            Item(name: decision.spec.name, domains: decision.spec.domains, status: decision.reason == nil ? "skipped" : "pending",
                 reason: decision.reason?.rawValue, error: nil, notAfter: decision.notAfter, seconds: nil, deployHookError: nil)
        }
        if !force {
            for index in items.indices where items[index].status == "pending" {
                let record = history.read(items[index].name)
                guard record.isBackingOff(at: now), let retryAt = record.retryAt else { continue }
                items[index].status = "backing-off"
                items[index].retryAt = retryAt
                items[index].consecutiveFailures = record.consecutiveFailures
                items[index].error = Self.backoffMessage(record, retryAt: retryAt)
            }
        }
        var locks: [CertificateLock] = []
        defer { for lock in locks { lock.release() } }
        var requests: [(index: Int, request: IssueRequest)] = []
        for (index, decision) in decisions.enumerated() where items[index].status == "pending" {
            let spec = decision.spec
            do {
                locks.append(try CertificateLock(stateDir: config.acme.stateDir, name: spec.name))
                var request = try IssueRequest(certName: spec.name, domains: spec.domains, keyType: spec.keyType,
                                               provider: spec.provider, alsoProviders: spec.alsoProviders,
                                               deployHook: spec.deployHook, profile: spec.profile, replaces: decision.certificateID)
                request.challenge = spec.challenge
                requests.append((index, request))
            } catch {
                items[index].status = "failed"
                items[index].error = describe(error)
            }
        }
        let due = requests.count
        let held = items.filter { $0.status == "backing-off" }.count
        events(.step("\(due) of \(decisions.count) certificate(s) due" + (held > 0 ? "; \(held) backing off after failed attempts" : "")))
        if !requests.isEmpty {
            // An error thrown here (no account, a signal) is the run's, not a certificate's: it
            // goes into no history and starts no back-off.
            let results = try await issuer.issueAll(requests.map(\.request))
            for ((index, _), result) in zip(requests, results) {
                switch result {
                case .success(let issued):
                    items[index].status = "issued"
                    items[index].notAfter = issued.notAfter
                    items[index].seconds = issued.seconds
                    items[index].deployHookError = issued.deployHookError
                case .failure(let error):
                    items[index].status = "failed"
                    items[index].error = describe(error)
                }
                record(items[index], in: history, at: Date())
            }
        }
        return Summary(certificates: items, seconds: seconds(ContinuousClock.now - start))
    }

    /// RFC 9773: asks the CA about the live certificates not yet due, through a client of its
    /// own: its transfers end after `RenewalPlan.lookupTimeout` and take none of the issuing
    /// client's connections. renewalInfo is an unauthenticated GET, so any key will do.
    private func consultRenewalInfo(_ decisions: [RenewalPlan.Decision], issuer: Issuer) async throws -> [RenewalPlan.Decision] {
        guard decisions.contains(where: { $0.reason == nil && $0.certificateID != nil }) else { return decisions }
        do {
            let transport = CurlTransport(caBundle: config.acme.caBundle, timeout: RenewalPlan.lookupTimeout, userAgent: "dns01")
            let client = ACMEClient(directoryURL: config.acme.directory, transport: transport, accountKey: try AccountKey.generate(),
                                    logger: issuer.logger)
            return try await RenewalPlan.consultRenewalInfo(decisions, client: client, logger: issuer.logger)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            issuer.logger.warning("Cannot ask the CA for renewal information: \(error)")
            return decisions
        }
    }

    /// "not retried before 2026-05-01T10:00:00Z after 2 failed attempts (`dns01 run --force`
    /// retries now); last error: …"
    static func backoffMessage(_ record: RunHistory, retryAt: Date) -> String {
        let attempts = record.consecutiveFailures == 1 ? "1 failed attempt" : "\(record.consecutiveFailures) failed attempts"
        let last = record.lastError.map { "; last error: \($0)" } ?? ""
        return "not retried before \(retryAt.formatted(.iso8601)) after \(attempts) (`dns01 run --force` retries now)\(last)"
    }

    /// Writes an attempt's outcome to the certificate's run history; a history that cannot be
    /// written is a warning, not a failed certificate.
    private func record(_ item: Item, in history: RunHistoryStore, at now: Date) {
        do {
            try history.update(item.name) { record in
                if item.status == "issued" {
                    record.recordSuccess(at: now)
                } else {
                    record.recordFailure(item.error ?? "unknown failure", at: now)
                }
            }
        } catch {
            events(.warning("Cannot record the outcome for \(item.name): \(describe(error))"))
        }
    }
}

/// An exclusive, non-blocking lock on one certificate (`state_dir/locks/NAME.lock`).
final class CertificateLock: Sendable {
    private let fd: Int32

    init(stateDir: String, name: String) throws {
        let directory = stateDir + "/locks"
        try FileSystem.createDirectory(directory)
        let path = "\(directory)/\(name).lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open the lock file", reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw OperationError("Another dns01 process is working on certificate \(name) (\(path) is locked).")
        }
        self.fd = fd
    }

    func release() { close(fd) }
}
