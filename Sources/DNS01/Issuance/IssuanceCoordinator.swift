import ACME
import Clocks
import DNS
import FoundationEssentials
import Glibc

/// Advances one `IssuanceJob` per certificate through `JobPhase` (DESIGN.md "Data flow"): every
/// order created concurrently (bounded by `[acme] concurrency`), each pending authorization
/// given a challenge by its solver, every record of every job written at once (one provider call
/// per zone), one propagation wait whose rounds drive answering — a job is answered the moment
/// all of its names are visible everywhere, finalized and stored the moment its authorizations
/// are valid — and the records removed as soon as no job needs them, while the CA still issues.
/// One job's failure does not stop the others. Progress lines are derived from the phase
/// changes (`move`), never the other way round.
///
/// Everything from outside is injected (`Environment`): the ACME client (its transport and
/// clock), the DNS side, the store and the clock, so the state machine runs in unit tests on a
/// scripted transport and a `ManualClock`.
actor IssuanceCoordinator {
    struct Environment: Sendable {
        var config: Configuration
        var client: ACMEClient
        var dns: any ChallengeDNS
        var store: CertificateStore
        var clock: any DeadlineClock
        var events: EventSink
        /// `dns01 run --dry-run`: each certificate is obtained and checked, then thrown away:
        /// nothing is stored and no deploy hook runs (`finalizeAndStore`).
        var dryRun = false
    }

    let env: Environment
    var jobs: [IssuanceJob]
    /// Authorizations some job of the batch answered already: two certificates that share a
    /// name may get one authorization from the CA, which is answered once.
    private var claimedAuthorizations: Set<String> = []
    /// Records written (to remove).
    private var presented: [ChallengeRecord] = []
    private var validationStarted = false
    private var cleanupTask: Task<Void, Never>?
    private var start: ContinuousClock.Instant
    /// The account-wide `rateLimited` answer a new order got: the jobs not yet ordered fail with
    /// it instead of asking again (the orders made go on).
    private var accountRateLimit: RateLimit?

    init(requests: [IssueRequest], environment: Environment) {
        env = environment
        jobs = requests.enumerated().map { IssuanceJob(index: $0.offset, request: $0.element) }
        start = environment.clock.now
    }

    /// Runs every job to a terminal phase; one result per request, in order. Throws only what
    /// ends the whole batch (cancellation, a journal that cannot be written); the records
    /// written are removed then too.
    func run() async throws -> [Result<IssueResult, any Error>] {
        start = env.clock.now
        let client = env.client
        let thumbprint = await client.keyAuthorizationThumbprint()
        guard let accountURL = await client.accountURL else {
            throw OperationError("The ACME client has no account to issue with.")
        }
        let limit = max(1, env.config.acme.concurrency)

        // queued → ordered → planned, concurrently (bounded).
        _ = try await concurrentMap(Array(jobs.indices), limit: limit) { index in
            await self.order(index, thumbprint: thumbprint, accountURL: accountURL)
        }
        try Task.checkCancellation()
        do {
            // Values a single-value provider cannot hold side by side: validated first, one round
            // at a time (nothing happens here without such a provider).
            try await validateEarlyRounds()
            // planned → presented → visible → answered → valid → stored.
            try await presentAndValidate()
        } catch {
            cleanupTask?.cancel()
            await env.dns.cleanup(presented)
            throw error
        }
        await finishCleanup()
        return jobs.map(\.outcome)
    }

    // MARK: - Phase changes

    /// Moves job `index` to `phase` and reports it; a move the state machine does not allow
    /// (a job that failed meanwhile) changes nothing.
    @discardableResult
    func move(_ index: Int, _ phase: JobPhase, _ step: String? = nil) -> Bool {
        guard jobs[index].move(to: phase) else { return false }
        env.events(.job(name: jobs[index].request.certName, phase: phase))
        if let step { env.events(.step(step)) }
        return true
    }

    /// Ends job `index` with `error` (unless it ended already).
    func fail(_ index: Int, _ error: any Error) {
        guard jobs[index].fail(error) else { return }
        env.events(.job(name: jobs[index].request.certName, phase: .failed))
        maybeStartCleanup()
    }

    // MARK: - queued → ordered → planned

    private func order(_ index: Int, thumbprint: String, accountURL: String) async {
        let request = jobs[index].request
        let client = env.client, dns = env.dns
        // DNS discovery (CNAMEs, zones, providers) runs while the CA creates the order.
        let providers = [request.provider].compactMap { $0 } + request.alsoProviders
        let label = request.challenge == .dnsAccount01 ? DNSAccountLabel(accountURL: accountURL).label : nil
        if let accountRateLimit {
            fail(index, accountRateLimit)
            return
        }
        let planning = Task { try await dns.targets(for: request.domains, providers: providers, accountLabel: label) }
        do {
            // `replaces` only to a CA that speaks ARI (RFC 9773 §5).
            let ari = try await client.directory().renewalInfo != nil
            let order = try await client.newOrder(identifiers: request.domains.map { Identifier.dns($0) },
                                                  profile: request.profile, replaces: ari ? request.replaces : nil)
            let authorizations = try await concurrentMap(order.authorizations) { try await client.authorization(at: $0) }
            jobs[index].order = order
            jobs[index].pendingAuthorizations = authorizations.filter { $0.status == .pending }.map(\.url)
            let context = SolverContext(thumbprint: thumbprint, accountURL: accountURL, targets: try await planning.value, dns: dns)
            move(index, .ordered, "\(request.certName): order created for \(request.domains.joined(separator: ", "))")
            try await plan(index, authorizations: authorizations, context: context)
        } catch {
            planning.cancel()
            if jobs[index].order == nil, let limit = RateLimit.find(in: error, domains: request.domains, now: Date()) {
                if limit.isAccountWide && accountRateLimit == nil {
                    accountRateLimit = limit
                    env.events(.warning("The CA refuses new orders of this account (\(limit)); the orders made go on, the rest wait."))
                }
                fail(index, limit)
                return
            }
            fail(index, error)
        }
    }

    /// A challenge for every pending authorization, chosen and solved concurrently.
    private func plan(_ index: Int, authorizations: [Authorization], context: SolverContext) async throws {
        let certName = jobs[index].request.certName
        let selection = ChallengeSelection(preference: jobs[index].request.challenge)
        var pending: [Authorization] = []
        for authorization in authorizations {
            switch authorization.status {
            case .valid:
                jobs[index].reused += 1
            case .pending:
                pending.append(authorization)
            default:
                throw OperationError("The CA's authorization for \(authorization.identifier.value) is \(authorization.status.rawValue), not pending.")
            }
        }
        let planned = try await concurrentMap(pending) { try await selection.plan($0, context: context) }
        jobs[index].challenges = planned
        let reused = jobs[index].reused
        let persisted = planned.filter { $0.kind == .dnsPersist01 }.count
        var notes: [String] = []
        if reused > 0 { notes.append("\(reused) authorization(s) already valid at the CA") }
        if persisted > 0 { notes.append("\(persisted) name(s) validated by their dns-persist-01 record") }
        move(index, .planned, notes.isEmpty ? nil : "\(certName): \(notes.joined(separator: ", ")), no record needed")
    }

    // MARK: - planned → presented → visible

    private func presentAndValidate() async throws {
        let planned = jobs.indices.filter { jobs[$0].phase == .planned }
        // A record two jobs share (one authorization for both) is written once.
        var seen: Set<ChallengeRecord> = []
        let records = planned.flatMap { jobs[$0].records }.filter { seen.insert($0).inserted }
        if !records.isEmpty {
            let outcomes = try await env.dns.presentEach(records)
            presented = outcomes.flatMap(\.records)
            for outcome in outcomes {
                guard let error = outcome.error else { continue }
                let failed = Set(outcome.records)
                for index in planned where jobs[index].records.contains(where: failed.contains) { fail(index, error) }
            }
        }
        for index in planned where jobs[index].phase == .planned {
            let names = Set(jobs[index].records.map(\.target.recordName))
            jobs[index].waitingFor = names
            move(index, names.isEmpty ? .visible : .presented)
        }
        validationStarted = true
        let live = Set(presented)
        let waitRecords = jobs.filter { $0.phase == .presented }.flatMap(\.records).filter { live.contains($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in jobs.indices where jobs[index].phase == .visible {
                group.addTask { await self.answerAndStore(index) }
            }
            if !waitRecords.isEmpty {
                do {
                    for try await round in try await env.dns.visibility(of: waitRecords, timeout: nil) {
                        for index in jobs.indices where jobs[index].phase == .presented {
                            jobs[index].waitingFor.subtract(round.visible)
                            if jobs[index].waitingFor.isEmpty && move(index, .visible) {
                                group.addTask { await self.answerAndStore(index) }
                            }
                        }
                    }
                } catch let error where !(error is CancellationError) {
                    // The wait failed (a timeout naming what is missing where): the jobs still
                    // waiting fail with its message; the others go on.
                    for index in jobs.indices where jobs[index].phase == .presented { fail(index, error) }
                }
                try Task.checkCancellation()
            }
            maybeStartCleanup()
            try await group.waitForAll()
        }
        try Task.checkCancellation()
    }

    // MARK: - visible → answered → valid → stored

    private func answerAndStore(_ index: Int) async {
        let job = jobs[index]
        let name = job.request.certName
        let client = env.client
        let deadline = env.clock.now + env.config.acme.orderTimeout
        do {
            // An authorization shared with another job of the batch is answered once.
            let mine = job.challenges.filter { claimedAuthorizations.insert($0.authorization.url).inserted }
            _ = try await concurrentMap(mine) { try await client.respond(to: $0.challenge) }
            try Task.checkCancellation()
            move(index, .answered, job.challenges.isEmpty ? nil : "\(name): answered \(job.challenges.count) challenge(s)")
            _ = try await withinOrderTimeout(deadline) {
                try await concurrentMap(job.challenges) { try await client.waitForAuthorization(at: $0.authorization.url, deadline: deadline) }
            }
            move(index, .valid, job.challenges.isEmpty ? nil : "\(name): all authorizations valid")
        } catch {
            fail(index, error)
            return
        }
        maybeStartCleanup()
        do {
            let result = try await finalizeAndStore(jobs[index])
            jobs[index].result = result
            move(index, .stored)
        } catch {
            fail(index, error)
        }
    }

    /// Runs `body`; a timeout at `deadline` says which setting bounds it.
    func withinOrderTimeout<T: Sendable>(_ deadline: ContinuousClock.Instant, _ body: @Sendable () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ACMEError where error.code == .timeout && env.clock.now >= deadline {
            var named = error
            named.message = String(error.message.dropLast()) + "; [acme] order_timeout is \(env.config.acme.orderTimeout.elapsedText)."
            throw named
        }
    }

    // MARK: - Cleanup

    /// Once no job needs its records any more, removes them (while the CA goes on issuing) and
    /// deactivates the pending authorizations of orders given up on before their challenges were
    /// answered (RFC 8555 §7.5.2), so they do not count against the CA's limit. On cancellation
    /// (SIGINT/SIGTERM) the records still go and the CA hears nothing more.
    private func maybeStartCleanup() {
        guard cleanupTask == nil, validationStarted, !jobs.contains(where: { $0.phase.needsRecords }) else { return }
        let records = presented, dns = env.dns, client = env.client, events = env.events
        let (urls, orders) = abandonedAuthorizations()
        let quiet = Task.isCancelled
        cleanupTask = Task.detached {
            await dns.cleanup(records)
            guard !urls.isEmpty, !quiet, !Task.isCancelled else { return }
            var deactivated = 0
            for url in urls where (try? await client.deactivateAuthorization(at: url)) != nil { deactivated += 1 }
            events(.step("deactivated \(deactivated) of \(urls.count) pending authorization(s) of \(orders) abandoned order(s)"))
        }
    }

    /// Pending authorizations of failed jobs that nobody answered and no live job needs.
    private func abandonedAuthorizations() -> (urls: [String], orders: Int) {
        let needed = Set(jobs.filter { $0.phase != .failed }.flatMap(\.pendingAuthorizations))
        var urls: Set<String> = [], orders = 0
        for job in jobs where job.phase == .failed {
            let mine = Set(job.pendingAuthorizations).subtracting(claimedAuthorizations).subtracting(needed)
            if !mine.isEmpty { orders += 1 }
            urls.formUnion(mine)
        }
        return (urls.sorted(), orders)
    }

    /// Waits for the cleanup, cancelling its CA requests with the caller: the DNS cleanup runs
    /// to the end all the same (`ChallengeDNS.cleanup` is not cancelled).
    private func finishCleanup() async {
        maybeStartCleanup()
        guard let task = cleanupTask else { return }
        await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }

    var elapsed: Double { (env.clock.now - start).inSeconds }
}
