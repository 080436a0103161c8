import ACME
import Clocks
import Files
import FoundationEssentials
import Glibc
import HTTP
import Logging
import Providers
import Storage
import Synchronization

/// `dns01 run`: every `[[certificate]]` that is due, issued together (one wait for all), each
/// under a lock so two runs never work on one certificate. One certificate's failure does not
/// stop the others. Each outcome goes into the certificate's `RunHistory`; a certificate whose
/// last attempts failed is left alone until its back-off has passed, and for good once its
/// failures have gone on for `give_up_after` (until forced, which resets the streak). With
/// `placeholder = true`, a certificate that has none in live/ gets a self-signed one first.
///
/// A dry run (`--dry-run`) obtains every certificate, due or not, from `[acme]`'s
/// `dryRunDirectory` (a staging CA) and throws it away: no lock, placeholder, live/ or archive/
/// write, deploy hook, `replaces` or run history; its records are cleaned up as in any run.
public struct BatchRun: Sendable {
    public struct Summary: Sendable, Codable {
        public var certificates: [Item]
        public var issued: Int { count(.issued) }
        public var failed: Int { count(.failed) }
        public var skipped: Int { count(.skipped) }
        public var backingOff: Int { count(.backingOff) }
        public var givenUp: Int { count(.givenUp) }
        public var rateLimited: Int { count(.rateLimited) }
        public func count(_ status: Status) -> Int { certificates.filter { $0.status == status }.count }
        /// The names of the certificates that ended in `status`.
        public func names(_ status: Status) -> [String] { certificates.filter { $0.status == status }.map(\.name) }
        public var seconds: Double
        /// A dry run: "issued" certificates were obtained and thrown away.
        public var dryRun = false
        /// With fleet storage: the connection to the database was lost during the run (one
        /// sentence naming the server and the certificates not stored); the run fails on it,
        /// and no back-off starts.
        public var storageLost: String?
        public var recordsPresented: Int { certificates.reduce(0) { $0 + ($1.recordsPresented ?? 0) } }

        enum CodingKeys: String, CodingKey { case certificates, issued, failed, skipped, backingOff, givenUp, rateLimited, seconds, dryRun, storageLost }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(certificates, forKey: .certificates)
            try container.encode(issued, forKey: .issued)
            try container.encode(failed, forKey: .failed)
            try container.encode(skipped, forKey: .skipped)
            try container.encode(backingOff, forKey: .backingOff)
            try container.encode(givenUp, forKey: .givenUp)
            try container.encode(rateLimited, forKey: .rateLimited)
            try container.encode(seconds, forKey: .seconds)
            if dryRun { try container.encode(dryRun, forKey: .dryRun) }
            try container.encodeIfPresent(storageLost, forKey: .storageLost)
        }
        public init(certificates: [Item], seconds: Double) {
            self.certificates = certificates
            self.seconds = seconds
        }
        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            certificates = try container.decode([Item].self, forKey: .certificates)
            seconds = try container.decode(Double.self, forKey: .seconds)
            dryRun = try container.decodeIfPresent(Bool.self, forKey: .dryRun) ?? false
            storageLost = try container.decodeIfPresent(String.self, forKey: .storageLost)
        }
    }

    /// The config with the certificates `dns01 issue` recorded for renewal added
    /// (`Configuration.addingIssuedRecords`).
    public let config: Configuration
    let events: EventSink
    /// Name clashes and unusable records found while adding them, warned about by `run`.
    let recordWarnings: [String]

    public init(config: Configuration, events: @escaping EventSink) {
        (self.config, recordWarnings) = config.addingIssuedRecords()
        self.events = events
    }

    /// `waitLock`: with fleet storage, how long to wait for a certificate another machine is
    /// working on (`--wait-lock`); nil: skip it and say who holds it.
    public func run(force: Bool, dryRun: Bool = false, waitLock: Int? = nil) async throws -> Summary {
        let start = ContinuousClock.now
        for warning in recordWarnings { events(.warning(warning)) }
        var issuing = config
        if dryRun { issuing.acme = config.acme.forDryRun }
        // One state for the whole run (with fleet storage one database session, whose locks end
        // with it); this machine's live/ and the run history are brought up to date with what is
        // shared first. A dry run stays off the shared state.
        let state: any StateStore = dryRun ? DirectoryStateStore(stateDir: config.acme.stateDir) : try await config.openState()
        defer { state.close() }
        // A version that cannot be installed is reported once (the lock step syncs again), and
        // the others go on.
        var notInstalled: [String: FleetSync.Failure] = [:]
        if let synced = try await state.syncLive(nil, config: config, events: events) { Self.note(synced, in: &notInstalled) }
        try await state.pullHistory(config.certificates.map(\.name))
        // The orders the CA creates, counted for max_new_orders.
        let ordersMade = OrderCounter(), events = self.events
        let issuer = Issuer(config: issuing, events: { event in
            if case .job(_, .ordered) = event { ordersMade.count.withLock { $0 += 1 } }
            events(event)
        }, dryRun: dryRun, state: state)
        // Records a killed run left behind are removed first, whether or not anything is due.
        try await issuer.deployer.checkStateDirectory()
        await issuer.deployer.cleanupOrphans()
        let now = RenewalClock.now(), checkedAt = Date()
        var decisions = RenewalPlan.decide(config, force: force, now: now)
        if dryRun {
            // Every certificate is rehearsed; the reason says whether a real run would renew it
            // (without asking the production CA's ARI), and nothing replaces the live one.
            events(.step("Dry run against \(issuing.acme.directory): nothing is stored, no deploy hook runs"))
            for index in decisions.indices { decisions[index].certificateID = nil }
        } else {
            decisions = try await consultRenewalInfo(decisions, issuer: issuer)
        }
        let history = RunHistoryStore(stateDir: config.acme.stateDir)
        var items = decisions.map { Item($0, dryRun: dryRun) }
        // The items hold the decisions now (until their requests are made, below).
        decisions = []
        for index in items.indices where !dryRun {
            guard let spec = items[index].spec else { continue }
            let record = history.read(spec.name)
            // The CA's rateLimited answer to an earlier run holds until its time (--force asks anyway).
            if !force, items[index].status == .pending, let limit = record.rateLimit(at: now) {
                items[index].rateLimited(limit, held: true)
                continue
            }
            guard record.consecutiveFailures > 0 else { continue }
            // --force resets the streak and tries. A certificate that is not due is fine (renewed
            // by `dns01 issue`, say): its old streak must not count against its next renewal.
            if force || items[index].status == .skipped {
                resetStreak(spec.name, in: history)
                continue
            }
            switch record.retry(at: now, giveUpAfter: spec.giveUpAfter.inSeconds) {
            case .now:
                break
            case .backingOff(let retryAt):
                items[index].backOff(until: retryAt, failures: record.consecutiveFailures,
                                     message: Self.backoffMessage(record, retryAt: retryAt))
            case .givenUp(let since):
                items[index].giveUp(failingSince: since, failures: record.consecutiveFailures,
                                    message: Self.givenUpMessage(record, since: since, giveUpAfter: spec.giveUpAfter))
            }
        }
        var locks: [CertificateLock] = []
        defer { for lock in locks { lock.release() } }
        let store = CertificateStore(state: state)
        try await lockShared(state, items: &items, force: force, waitLock: waitLock, notInstalled: &notInstalled)
        var requests: [IssueRequest] = []
        for index in items.indices where items[index].status == .pending {
            guard let decision = items[index].decision else { continue }
            let spec = decision.spec
            var request: IssueRequest
            do {
                // A provider a `dns01 issue` record names may have left the config since.
                for provider in [spec.provider].compactMap({ $0 }) + spec.alsoProviders
                where !config.providers.contains(where: { $0.name == provider }) {
                    throw UsageError("Provider '\(provider)', which `dns01 issue` used for it, is not a configured [[provider]] any more (issue it again with another --provider).", code: .notConfigured)
                }
                if !dryRun { locks.append(try CertificateLock(stateDir: config.acme.stateDir, name: spec.name)) }
                request = try IssueRequest(certName: spec.name, domains: spec.domains, keyType: spec.keyType,
                                           provider: spec.provider, alsoProviders: spec.alsoProviders,
                                           deployHook: spec.deployHook, profile: spec.profile,
                                           replaces: decision.certificateID, challenge: spec.challenge)
            } catch {
                items[index].fail(describe(error))
                continue
            }
            // A placeholder that cannot be written does not stop the real certificate.
            if !dryRun {
                do {
                    request = try await store.prepare(request, placeholder: spec.placeholder, events: events)
                } catch {
                    events(.warning("\(spec.name): cannot write a placeholder certificate: \(describe(error))"))
                }
            }
            requests.append(request)
        }
        // Every request is made: the rest of the run reads the items' own fields.
        for index in items.indices { items[index].dropDecision() }
        // max_new_orders: the certificates past what the window allows wait for a later run;
        // renewals of live certificates first, the soonest to expire first, new ones after.
        let ledger = config.acme.maxNewOrders.map { NewOrderLedger(stateDir: config.acme.stateDir, budget: $0) }
        if let ledger, !dryRun {
            let allowance = ledger.allowance(at: now)
            if requests.count > allowance.count {
                let notAfter = Dictionary(items.map { ($0.name, $0.notAfter ?? .distantFuture) }, uniquingKeysWith: { first, _ in first })
                let ranked = requests.enumerated().sorted {
                    (notAfter[$0.element.certName] ?? .distantFuture, $0.offset) < (notAfter[$1.element.certName] ?? .distantFuture, $1.offset)
                }.map(\.element)
                let waiting = Set(ranked.dropFirst(allowance.count).map(\.certName))
                requests = Array(ranked.prefix(allowance.count))
                for index in items.indices where waiting.contains(items[index].name) {
                    items[index].leftForLater(budget: ledger.budget, next: allowance.next)
                }
                events(.step("max_new_orders \(ledger.budget.text): \(requests.count) new order(s) in this run, \(waiting.count) certificate(s) left for a later run"
                             + " (the next may start at \(allowance.next.formatted(.iso8601)))"))
            }
        }
        let due = requests.count
        let held = items.filter { $0.status == .backingOff }.count
        let givenUp = items.filter { $0.status == .givenUp }.count
        let limited = items.filter { $0.status == .rateLimited && $0.reason == "held" }.count
        if dryRun {
            events(.step("dry run: \(due) certificate(s) to obtain from \(issuing.acme.directory) and throw away"))
        } else {
            events(.step("\(due) of \(items.count) certificate(s) due" + (held > 0 ? "; \(held) backing off after failed attempts" : "")
                         + (givenUp > 0 ? "; \(givenUp) given up (`dns01 run --force` resets)" : "")
                         + (limited > 0 ? "; \(limited) rate limited by the CA in an earlier run" : "")))
        }

        var storageLost: String?
        var configErrorOfRun: (any Error)?
        if !requests.isEmpty {
            // An error thrown here (the CA unreachable, the account refused) fails every
            // certificate the run meant to renew: each gets it in its history, its back-off,
            // the metrics and a notification. A usage or config error (exit 2) is told the same
            // way but starts no back-off the fixed config would have to wait out; a signal is
            // the run's alone.
            // Each outcome goes to its certificate's record by name.
            var outcomes: [String: Result<IssueResult, any Error>] = [:]
            do {
                let results = try await issuer.issueAll(requests)
                for (request, result) in zip(requests, results) { outcomes[request.certName] = result }
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                for request in requests { outcomes[request.certName] = .failure(error) }
                if ExitStatus.code(for: error) != 1 { configErrorOfRun = error }
            }
            if let ledger, !dryRun {
                do {
                    try ledger.record(ordersMade.count.withLock { $0 }, at: RenewalClock.now())
                } catch {
                    events(.warning("Cannot record the new orders for max_new_orders in \(ledger.path): \(describe(error))"))
                }
            }
            var lost: (error: String, names: [String])?
            for index in items.indices where items[index].status == .pending {
                guard let outcome = outcomes[items[index].name] else { continue }
                switch outcome {
                case .success(let issued):
                    items[index].issued(issued)
                case .failure(let error):
                    if let limit = RateLimit.find(in: error, domains: items[index].domains, now: Date()) {
                        items[index].rateLimited(limit)
                        break
                    }
                    items[index].fail(describe(error))
                    // A certificate that only failed to reach the fleet's database did not fail
                    // at the CA or in DNS: no back-off for it; the run fails as a whole (below).
                    if let storage = state.lostConnection(error) {
                        lost = (lost?.error ?? storage, (lost?.names ?? []) + [items[index].name])
                        continue
                    }
                }
                if !dryRun && configErrorOfRun == nil { record(items[index], in: history, at: Date()) }
            }
            if let lost {
                storageLost = "\(lost.error.dropLast()) during the run, so \(lost.names.joined(separator: ", ")) could not be stored (no partial version is live); the next run retries \(lost.names.count == 1 ? "it" : "them") without back-off."
            }
        }
        // A certificate whose fleet version could not be installed here, and that this run did
        // not replace, failed: the run exits 1 naming it (its run history is not touched: the
        // CA was not asked).
        for index in items.indices where items[index].status == .skipped {
            guard let failure = notInstalled[items[index].name] else { continue }
            items[index].fail("\(failure.label) from the fleet's database was not installed: \(failure.error)")
        }
        // The outcomes (and streaks reset above) are shared: with fleet storage another issuer's
        // next run backs off from this one's failures.
        do {
            try await state.pushHistory(items.filter { $0.status != .skipped || force }.map(\.name))
        } catch {
            events(.warning("Cannot share the run history with the fleet: \(describe(error))"))
        }
        for index in items.indices where items[index].status != .issued && items[index].status != .skipped {
            if let certificate = try? store.currentCertificate(items[index].name), CertificateStore.isPlaceholder(certificate) {
                items[index].placeholder = true
            }
        }
        // The certificates this run looked at and left alone: `dns01 certificates` says when.
        if !dryRun && configErrorOfRun == nil {
            do {
                try history.writeChecked(items.filter { $0.status == .skipped }.map(\.name), at: checkedAt)
            } catch {
                events(.warning("Cannot record when the certificates were checked: \(describe(error))"))
            }
        }
        var summary = Summary(certificates: items, seconds: (ContinuousClock.now - start).inSeconds)
        summary.storageLost = storageLost
        summary.dryRun = dryRun
        // A dry run changes nothing a monitor reads and tells nobody.
        if !dryRun, let notify = config.notify { await NotifyHook.notify(notify, items: items, config: config, events: events) }
        if !dryRun, let metrics = config.metrics { MetricsTextfile.write(metrics, config: config, summary: summary, events: events) }
        if let configErrorOfRun { throw configErrorOfRun }
        return summary
    }

    /// Keeps the sync's failures by certificate; a certificate installed since is fine again.
    static func note(_ summary: FleetSync.Summary, in failures: inout [String: FleetSync.Failure]) {
        for item in summary.updated { failures[item.name] = nil }
        for failure in summary.failed { failures[failure.name] = failure }
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

    /// "given up: failing since 2026-05-01T08:00:00Z (6 failed attempts, give_up_after 24h), not
    /// retried until `dns01 run --force` resets it; last error: …"
    static func givenUpMessage(_ record: RunHistory, since: Date, giveUpAfter: Duration) -> String {
        let attempts = record.consecutiveFailures == 1 ? "1 failed attempt" : "\(record.consecutiveFailures) failed attempts"
        let last = record.lastError.map { "; last error: \($0)" } ?? ""
        return "given up: failing since \(since.formatted(.iso8601)) (\(attempts), give_up_after \(giveUpAfter.configText)), not retried until `dns01 run --force` resets it\(last)"
    }


    /// Forgets the failure streak of `name` (--force; a certificate that is fine again).
    private func resetStreak(_ name: String, in history: RunHistoryStore) {
        do {
            try history.update(name) { $0.resetStreak() }
        } catch {
            events(.warning("Cannot reset the failure streak of \(name): \(describe(error))"))
        }
    }

    /// Writes an attempt's outcome to the certificate's run history; a history that cannot be
    /// written is a warning, not a failed certificate.
    private func record(_ item: Item, in history: RunHistoryStore, at now: Date) {
        do {
            try history.update(item.name) { record in
                if item.status == .issued {
                    record.recordSuccess(at: now)
                } else if item.status == .rateLimited, let until = item.retryAt {
                    record.recordRateLimit(until: until, message: item.error ?? "the CA answered rateLimited", at: now)
                } else {
                    record.recordFailure(item.error ?? "unknown failure", at: now)
                }
            }
        } catch {
            events(.warning("Cannot record the outcome for \(item.name): \(describe(error))"))
        }
    }
}

/// The new orders a run's issuer made (`[acme] max_new_orders`).
final class OrderCounter: Sendable {
    let count = Mutex(0)
}

/// An exclusive, non-blocking lock on one certificate (`state_dir/locks/NAME.lock`), whose
/// file goes when it is released (`FileLock.unlock(removingFile:)`): locks/ holds only the
/// locks of the certificates being worked on.
final class CertificateLock: Sendable {
    private let lock: FileLock

    init(stateDir: String, name: String) throws {
        let directory = stateDir + "/locks"
        try FileSystem.createDirectory(directory)
        let path = "\(directory)/\(name).lock"
        guard let lock = try FileLock.attempt(path: path) else {
            throw OperationError("Another dns01 process is working on certificate \(name) (\(path) is locked).", code: .locked)
        }
        self.lock = lock
    }

    func release() { lock.unlock(removingFile: true) }
}
