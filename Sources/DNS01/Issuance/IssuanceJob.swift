import ACME

/// Where one certificate's issuance stands (STYLE.md 11). A job moves
/// `queued → ordered → planned → presented → visible → answered → valid → stored`, skipping
/// `presented` when nothing needs writing (dns-persist-01, authorizations the CA holds valid),
/// or ends in `failed` from any phase before `stored`.
public enum JobPhase: String, Sendable, Codable, CaseIterable {
    /// Not yet ordered.
    case queued
    /// The CA created the order; its authorizations are known.
    case ordered
    /// Each pending authorization has a challenge chosen and solved: the records to write are known.
    case planned
    /// The job's records are written.
    case presented
    /// Every authoritative server serves every value of the job (or nothing needed serving).
    case visible
    /// The job's challenges were answered; the CA validates.
    case answered
    /// Every authorization of the order is valid.
    case valid
    /// The certificate is issued, checked and stored (terminal).
    case stored
    /// Terminal; the job's `failure` says why.
    case failed

    /// The phases this one may move to.
    public var successors: Set<JobPhase> {
        switch self {
        case .queued: [.ordered, .failed]
        case .ordered: [.planned, .failed]
        case .planned: [.presented, .visible, .failed]
        case .presented: [.visible, .failed]
        case .visible: [.answered, .failed]
        case .answered: [.valid, .failed]
        case .valid: [.stored, .failed]
        case .stored, .failed: []
        }
    }

    public var isTerminal: Bool { successors.isEmpty }
    /// Records of a job in these phases may still be needed by the CA.
    var needsRecords: Bool { self == .presented || self == .visible || self == .answered }
}

/// One certificate of a batch, as the coordinator advances it.
struct IssuanceJob: Sendable {
    let index: Int
    let request: IssueRequest
    private(set) var phase: JobPhase = .queued
    /// Why the job failed (a `CertificateFailure` naming the certificate).
    private(set) var failure: (any Error)?
    var order: Order?
    /// The challenges of the order's pending authorizations, as the solvers planned them.
    var challenges: [PlannedChallenge] = []
    /// The order's authorizations that were pending when it was created (deactivated if the
    /// job is abandoned before answering them).
    var pendingAuthorizations: [String] = []
    /// Authorizations the CA already held valid.
    var reused = 0
    /// Challenges validated in an earlier round (single-value providers).
    var validatedEarly = 0
    var result: IssueResult?
    /// Record names not yet visible everywhere.
    var waitingFor: Set<String> = []

    init(index: Int, request: IssueRequest) {
        self.index = index
        self.request = request
    }

    /// Moves to `next` if the state machine allows it; false (and no change) otherwise.
    mutating func move(to next: JobPhase) -> Bool {
        guard phase.successors.contains(next) else { return false }
        phase = next
        return true
    }

    /// Ends the job with `error` unless it already ended; false when it had.
    mutating func fail(_ error: any Error) -> Bool {
        guard move(to: .failed) else { return false }
        failure = CertificateFailure(request.certName, error)
        return true
    }

    var records: [ChallengeRecord] { challenges.compactMap(\.record) }

    /// The job's outcome once it is terminal.
    var outcome: Result<IssueResult, any Error> {
        if let result, phase == .stored { return .success(result) }
        return .failure(failure ?? CertificateFailure(request.certName, OperationError("The issuance of \(request.certName) stopped in phase \(phase.rawValue).")))
    }
}

/// One pending authorization's challenge as a solver planned it.
struct PlannedChallenge: Sendable {
    var authorization: Authorization
    var challenge: Challenge
    var kind: ChallengeKind
    /// The record to write; nil when the CA validates what is already served (dns-persist-01).
    var record: ChallengeRecord?
}
