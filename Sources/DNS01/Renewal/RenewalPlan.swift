import ACME
import Clocks
import FoundationEssentials
import Glibc
import Logging
import Processes
import Providers
import X509

/// Which `[[certificate]]` entries a `dns01 run` must issue: missing, a placeholder, due (by
/// `renew_before`, or by the certificate's own lifetime when that is not set), or whose names
/// changed (or all, with --force).
public enum RenewalPlan {
    public enum Reason: String, Sendable, Codable {
        case missing, expiring, namesChanged = "names-changed", forced
        /// The CA's renewal window (RFC 9773 ARI) has begun.
        case renewalWindow = "renewal-window"
        /// live/ holds dns01's self-signed placeholder, not yet the CA's certificate.
        case placeholder
    }

    public struct Decision: Sendable {
        public var spec: Configuration.CertificateSpec
        /// nil: the live certificate is fine until `renewAt`.
        public var reason: Reason?
        public var notAfter: Date?
        /// When the live certificate falls due without ARI (`renewalTime`); nil when there is none.
        public var renewAt: Date?
        /// ARI certificate ID of the live certificate, for renewalInfo and `replaces`; nil when
        /// the names changed (the new certificate replaces nothing).
        public var certificateID: String?
    }

    public static func decide(_ config: Configuration, force: Bool, now: Date = Date()) -> [Decision] {
        decide(config.certificates, store: CertificateStore(stateDir: config.acme.stateDir), force: force, now: now)
    }

    static func decide(_ specs: [Configuration.CertificateSpec], store: CertificateStore, force: Bool, now: Date) -> [Decision] {
        specs.map { spec in
            guard let certificate = try? store.currentCertificate(spec.name) else {
                return Decision(spec: spec, reason: .missing, notAfter: nil)
            }
            let notAfter = certificate.notValidAfter
            // Due at once, even with --force (the more telling reason); no ARI, no `replaces`.
            if CertificateStore.isPlaceholder(certificate) { return Decision(spec: spec, reason: .placeholder, notAfter: notAfter) }
            let renewAt = renewalTime(notBefore: certificate.notValidBefore, notAfter: notAfter, renewBefore: spec.renewBefore)
            let id = RenewalInfo.certificateID(of: certificate)
            if force { return Decision(spec: spec, reason: .forced, notAfter: notAfter, renewAt: renewAt, certificateID: id) }
            if Set(subjectAlternativeNames(certificate)) != Set(spec.domains) {
                return Decision(spec: spec, reason: .namesChanged, notAfter: notAfter, renewAt: renewAt, certificateID: nil)
            }
            return Decision(spec: spec, reason: now >= renewAt ? .expiring : nil, notAfter: notAfter, renewAt: renewAt, certificateID: id)
        }
    }

    /// Lifetimes shorter than this renew with half of it left instead of a third.
    static let shortLifetime: TimeInterval = 10 * 86400

    /// When a certificate valid from `notBefore` to `notAfter` falls due without ARI:
    /// `renew_before` ahead of `notAfter` when the config sets it; otherwise once a third of the
    /// lifetime remains (half, for lifetimes under 10 days), as Let's Encrypt asks of clients
    /// without ARI: a 90-day certificate 30 days ahead, a 45-day one 15 days, a 6-day
    /// (`shortlived`) one 3 days. A certificate that is never valid is due at once.
    static func renewalTime(notBefore: Date, notAfter: Date, renewBefore: Duration?) -> Date {
        if let renewBefore { return notAfter.addingTimeInterval(-renewBefore.inSeconds) }
        let lifetime = notAfter.timeIntervalSince(notBefore)
        guard lifetime > 0 else { return .distantPast }
        return notAfter.addingTimeInterval(-(lifetime < shortLifetime ? lifetime / 2 : lifetime / 3))
    }

    static func subjectAlternativeNames(_ certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            if case .dnsName(let text) = name { return text.lowercased() }
            return nil
        }
    }

    /// renewalInfo requests in flight at once.
    public static let lookupConcurrency = 8
    /// Longest wait for one renewalInfo answer (and for the directory).
    public static let lookupTimeout = Duration.seconds(10)
    /// Longest the whole renewalInfo phase of a run takes: certificates not asked by then are
    /// left to `renewAt`, so a CA that never answers costs a run a minute, not 30 s per certificate.
    public static let lookupPhaseLimit = Duration.seconds(60)

    /// RFC 9773 §4.2: asks the CA (when its directory offers renewalInfo) about each live
    /// certificate not yet due, `concurrency` at a time, each for at most `timeout` and all within
    /// `phaseLimit`; marks a certificate due once its moment of its suggested window has passed
    /// (`fraction` of the way in: `RenewalInfo.windowFraction`, the same in every run). Without
    /// ARI, or when the CA cannot be asked in time, `renewAt` alone decides.
    /// Throws `CancellationError` as soon as the calling task is cancelled (SIGTERM), without
    /// waiting for requests in flight.
    public static func consultRenewalInfo(
        _ decisions: [Decision], client: ACMEClient, logger: Logger, now: Date = Date(),
        fraction: (String) -> Double = RenewalInfo.windowFraction(certificateID:), concurrency: Int = lookupConcurrency,
        timeout: Duration = lookupTimeout, phaseLimit: Duration = lookupPhaseLimit
    ) async throws -> [Decision] {
        let phaseEnd = ContinuousClock.now + phaseLimit
        let offered: String??
        do {
            offered = try await Deadline.run(min(timeout, phaseLimit)) { try await client.directory().renewalInfo }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.warning("Cannot read the CA's directory for renewal information: \(error)")
            return decisions
        }
        guard case .some(.some) = offered else { return decisions }

        let asked = decisions.indices.compactMap { index -> (index: Int, id: String)? in
            guard decisions[index].reason == nil, let id = decisions[index].certificateID else { return nil }
            return (index, id)
        }
        enum Outcome: Sendable { case info(RenewalInfo?), timedOut, failed(String), notAsked }
        let outcomes: [Outcome] = try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
            var outcomes = [Outcome](repeating: .notAsked, count: asked.count)
            var next = 0
            func start() {
                let position = next, id = asked[position].id
                next += 1
                let left = phaseEnd - ContinuousClock.now
                guard left > .zero else {
                    group.addTask { (position, .notAsked) }
                    return
                }
                group.addTask {
                    do {
                        guard let info = try await Deadline.run(min(timeout, left), { try await client.renewalInfo(certificateID: id) }) else {
                            return (position, .timedOut)
                        }
                        return (position, .info(info))
                    } catch is CancellationError {
                        throw CancellationError()
                    } catch {
                        return (position, .failed(describe(error)))
                    }
                }
            }
            while next < asked.count && next < max(1, concurrency) { start() }
            for try await (position, outcome) in group {
                outcomes[position] = outcome
                if next < asked.count { start() }
            }
            return outcomes
        }
        try Task.checkCancellation()

        var result = decisions
        var timedOut: [String] = [], notAsked: [String] = []
        for (position, outcome) in outcomes.enumerated() {
            let index = asked[position].index
            let name = result[index].spec.name
            switch outcome {
            case .info(let info):
                if let info, info.renewalTime(fraction: fraction(asked[position].id), now: now) <= now { result[index].reason = .renewalWindow }
            case .timedOut: timedOut.append(name)
            case .notAsked: notAsked.append(name)
            case .failed(let message): logger.warning("No renewal information for \(name): \(message) Its lifetime or renew_before decides.")
            }
        }
        if !timedOut.isEmpty {
            logger.warning("The CA sent no renewal information within \(timeout.configText) for \(list(timedOut)); their lifetime or renew_before decides.")
        }
        if !notAsked.isEmpty {
            logger.warning("Stopped asking the CA for renewal information after \(phaseLimit.configText); the lifetime or renew_before of \(list(notAsked)) decides.")
        }
        return result
    }

    /// "a, b, c and 7 more", for one log line about many certificates.
    private static func list(_ names: [String]) -> String {
        names.count <= 3 ? names.joined(separator: ", ") : names.prefix(3).joined(separator: ", ") + " and \(names.count - 3) more"
    }
}
