import ACME
import FoundationEssentials

/// A CA's `rateLimited` answer (RFC 8555 §6.6) to a new order, as the run acts on it: until
/// `until` (its Retry-After, or `defaultBackoff` without one) either the account makes no more
/// new orders (`names` empty: an account-wide limit, such as Let's Encrypt's new orders per
/// account) or only the certificates with one of `names` wait (a per-name limit: the problem's
/// subproblems, or its detail, name one of the order's identifiers).
public struct RateLimit: Error, Sendable, CustomStringConvertible {
    public var until: Date
    /// The identifiers the limit is about; empty for the account's limit.
    public var names: [String]
    /// The CA's sentence (as `ACMEError` words it).
    public var message: String

    /// How long a run waits when the CA gave no Retry-After.
    public static let defaultBackoff: TimeInterval = 3600

    public var isAccountWide: Bool { names.isEmpty }

    public var description: String {
        "rate limited until \(until.formatted(.iso8601)) (" + (isAccountWide ? "the account's new orders" : names.joined(separator: ", "))
            + "): \(message)"
    }

    /// The rate limit in `error` (a `CertificateFailure` or `ACMEError`, maybe this type), or
    /// nil; `domains` are the order's identifiers, `now` the moment it was answered.
    public static func find(in error: any Error, domains: [String], now: Date) -> RateLimit? {
        if let limit = error as? RateLimit { return limit }
        if let failure = error as? CertificateFailure { return find(in: failure.underlying, domains: domains, now: now) }
        guard let acme = error as? ACMEError, let problem = acme.problem, problem.type == .rateLimited else { return nil }
        let wait = acme.retryAfter.map { Double($0.components.seconds) } ?? defaultBackoff
        var names = (problem.subproblems ?? []).compactMap { $0.identifier?.value } + [problem.identifier?.value].compactMap { $0 }
        if names.isEmpty, let detail = problem.detail?.lowercased() {
            // "too many certificates (5) already issued for \"a.test\" …": a name of the order in the
            // detail makes it that name's limit. The longest first: "www.a.test" before "a.test".
            for domain in domains.sorted(by: { $0.count > $1.count }) where detail.contains(domain.lowercased()) {
                names.append(domain)
                break
            }
        }
        return RateLimit(until: now.addingTimeInterval(max(1, wait)), names: names, message: acme.message)
    }
}
