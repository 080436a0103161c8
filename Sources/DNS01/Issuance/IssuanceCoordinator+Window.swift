import Processes

extension IssuanceCoordinator {
    /// Certificates in flight at once by default: a run of more goes window by window, each
    /// with its own presentation and propagation wait, so memory stays flat in the number of
    /// names while the wall time grows by one wait per window, not per certificate.
    static let defaultWindow = 100

    /// Runs `requests` in windows of `window` certificates, one coordinator (one write per
    /// zone, one wait) each; one result per request, in order. A run of at most `window`
    /// certificates is exactly one coordinator. Once the CA refused the account's new orders
    /// (`RateLimit.isAccountWide`), the later windows ask for none: their certificates get
    /// the same answer.
    static func runWindowed(_ requests: [IssueRequest], window: Int = defaultWindow,
                            environment: Environment) async throws -> [Result<IssueResult, any Error>] {
        let size = max(1, window)
        var results: [Result<IssueResult, any Error>] = []
        results.reserveCapacity(requests.count)
        var refusal: RateLimit?
        var start = 0
        while start < requests.count {
            let batch = Array(requests[start..<min(start + size, requests.count)])
            start += batch.count
            if let refusal {
                results += batch.map { .failure(CertificateFailure($0.certName, refusal)) }
                continue
            }
            if requests.count > size {
                environment.events(.step("window of \(batch.count) certificate(s): \(start - batch.count + 1) to \(start) of \(requests.count)"))
            }
            let outcomes = try await IssuanceCoordinator(requests: batch, environment: environment).run()
            results += outcomes
            // The window's transfers, JSON and keys are freed now, but malloc keeps their pages
            // between the records the run holds on to; give those pages back before the next
            // window, so a long run's memory stays near one window's.
            if start < requests.count { FreePages.release() }
            for case .failure(let error) in outcomes {
                if let limit = (error as? CertificateFailure)?.underlying as? RateLimit, limit.isAccountWide {
                    refusal = limit
                    break
                }
            }
        }
        return results
    }
}
