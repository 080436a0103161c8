import FoundationEssentials
import Glibc

extension BatchRun {
    /// Where a certificate is in a run, and how it ended (STYLE.md 17): what `--json`, the
    /// report, the metrics textfile and notify all read. The raw values are `--json`'s.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Due, and not yet through issuance.
        case pending
        /// Issued (and stored, unless a dry run) in this run.
        case issued
        /// Not due: `reason` is nil, or a dry run's "not-due".
        case skipped
        /// Attempted, or meant to be, and failed: `error` says why.
        case failed
        /// Due, but its last attempts failed and the back-off has not passed; `error` says
        /// until when and why.
        case backingOff = "backing-off"
        /// Its failures have gone on for `give_up_after`; `error` says since when and why, and
        /// that `dns01 run --force` resets it.
        case givenUp = "given-up"
        /// The CA answered its new order (or, earlier, the account's) with `rateLimited`:
        /// `retryAt` says until when (its Retry-After), `error` "rate limited until T …". Not a
        /// failure of the certificate: it starts no failure streak and no back-off.
        case rateLimited = "rate-limited"

        /// The statuses a run ends in (every one but `pending`).
        public static let outcomes: [Status] = [.issued, .failed, .skipped, .backingOff, .givenUp, .rateLimited]
    }

    /// One certificate's record through a run: its plan, its status and the reason, and what
    /// the run learned. The run moves it from state to state with the methods below; nothing
    /// else sets `status`.
    public struct Item: Sendable, Codable {
        public var name: String
        public var domains: [String]
        public var status: Status
        public var reason: String?
        public var error: String?
        public var notAfter: Date?
        public var seconds: Double?
        public var deployHookError: String?
        /// For `backingOff`: when the next attempt may start, and how many attempts failed in a row.
        public var retryAt: Date?
        public var consecutiveFailures: Int?
        /// For `givenUp`: the first failure of the streak.
        public var failingSince: Date?
        /// True when, after this run, live/NAME holds dns01's self-signed placeholder (no
        /// certificate from the CA yet).
        public var placeholder: Bool?
        /// For `issued`: the challenge records presented for it.
        public var recordsPresented: Int?
        /// What the renewal plan decided for it (not in `--json`), until the run has made its
        /// request (`dropDecision`). Boxed: a run of 10,000 certificates holds its items to the
        /// end, and a decision inline would keep each a few hundred bytes larger all that time.
        var decision: RenewalPlan.Decision? {
            get { decisionBox?.decision }
            set { decisionBox = newValue.map(DecisionBox.init) }
        }
        private var decisionBox: DecisionBox?

        enum CodingKeys: String, CodingKey {
            case name, domains, status, reason, error, notAfter, seconds, deployHookError, retryAt, consecutiveFailures,
                 failingSince, placeholder, recordsPresented
        }

        public init(name: String, domains: [String], status: Status, reason: String? = nil, error: String? = nil,
                    notAfter: Date? = nil, seconds: Double? = nil, deployHookError: String? = nil) {
            self.name = name
            self.domains = domains
            self.status = status
            self.reason = reason
            self.error = error
            self.notAfter = notAfter
            self.seconds = seconds
            self.deployHookError = deployHookError
        }

        /// The record a run starts with: pending when due (every one in a dry run), else skipped.
        init(_ decision: RenewalPlan.Decision, dryRun: Bool) {
            self.init(name: decision.spec.name, domains: decision.spec.domains,
                      status: decision.reason == nil && !dryRun ? .skipped : .pending,
                      reason: decision.reason?.rawValue ?? (dryRun ? "not-due" : nil), notAfter: decision.notAfter)
            self.decision = decision
        }

        var spec: Configuration.CertificateSpec? { decision?.spec }

        /// Frees the plan's decision once the run no longer needs it.
        mutating func dropDecision() { decisionBox = nil }

        /// pending → backingOff: its last attempts failed and `retryAt` has not come.
        mutating func backOff(until retryAt: Date, failures: Int, message: String) {
            status = .backingOff
            self.retryAt = retryAt
            consecutiveFailures = failures
            error = message
        }

        /// pending → givenUp: failing since `since`, for longer than `give_up_after`.
        mutating func giveUp(failingSince since: Date, failures: Int, message: String) {
            status = .givenUp
            failingSince = since
            consecutiveFailures = failures
            error = message
        }

        /// pending → rateLimited: the CA refused its order until `limit.until` (`reason` nil), or a
        /// refusal of an earlier run still holds (`reason` "held").
        mutating func rateLimited(_ limit: RateLimit, held: Bool = false) {
            status = .rateLimited
            reason = held ? "held" : nil
            retryAt = limit.until
            error = held ? "\(limit.message) (the CA's answer to an earlier run; `dns01 run --force` asks now)" : limit.description
        }

        /// pending → rateLimited: `[acme] max_new_orders` allows no more new orders in this run
        /// (`reason` "max-new-orders"); the next run after `next` takes it. No attempt: no history.
        mutating func leftForLater(budget: Configuration.NewOrderBudget, next: Date) {
            status = .rateLimited
            reason = "max-new-orders"
            retryAt = next
            error = "left for a later run: max_new_orders \(budget.text) reached (the next new order may start at \(next.formatted(.iso8601)))"
        }

        /// pending → skipped: another machine of the fleet holds its lock (`refusal` names it).
        mutating func lockedElsewhere(_ refusal: String) {
            status = .skipped
            reason = "locked-elsewhere"
            error = refusal
        }

        /// pending → skipped: another machine renewed it meanwhile, and it is no longer due.
        mutating func renewedElsewhere(notAfter: Date?) {
            status = .skipped
            reason = nil
            self.notAfter = notAfter
        }

        /// → issued.
        mutating func issued(_ result: IssueResult) {
            status = .issued
            notAfter = result.notAfter
            seconds = result.seconds
            deployHookError = result.deployHookError
            recordsPresented = result.recordsPresented
        }

        /// → failed, with the sentence that says why; a skipped one loses its not-due reason.
        mutating func fail(_ message: String) {
            if status == .skipped { reason = nil }
            status = .failed
            error = message
        }
    }
}

/// One certificate's renewal decision, held by reference (`BatchRun.Item.decision`).
private final class DecisionBox: Sendable {
    let decision: RenewalPlan.Decision
    init(_ decision: RenewalPlan.Decision) { self.decision = decision }
}
