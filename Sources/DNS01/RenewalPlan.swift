import ACME
import Foundation
import Logging
import X509

/// Which `[[certificate]]` entries a `dns01 run` must issue: missing, due (by `renew_before`,
/// or by the certificate's own lifetime when that is not set), or whose names changed (or all,
/// with --force).
public enum RenewalPlan {
    public enum Reason: String, Sendable, Codable {
        case missing, expiring, namesChanged = "names-changed", forced
        /// The CA's renewal window (RFC 9773 ARI) has begun.
        case renewalWindow = "renewal-window"
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
        if let renewBefore { return notAfter.addingTimeInterval(-seconds(renewBefore)) }
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

    /// RFC 9773: asks the CA (when its directory offers renewalInfo) about each live
    /// certificate not yet due, and marks it due once a random moment of the suggested window
    /// has passed. Without ARI, or when the CA cannot be asked, `renewAt` alone decides.
    public static func consultRenewalInfo(_ decisions: [Decision], client: ACMEClient, logger: Logger,
                                          now: Date = Date(), fraction: () -> Double = { Double.random(in: 0..<1) }) async -> [Decision] {
        guard (try? await client.directory().renewalInfo) != nil else { return decisions }
        var result = decisions
        for index in result.indices where result[index].reason == nil {
            guard let id = result[index].certificateID else { continue }
            do {
                if let info = try await client.renewalInfo(certificateID: id), info.renewalTime(fraction: fraction(), now: now) <= now {
                    result[index].reason = .renewalWindow
                }
            } catch {
                logger.warning("No renewal information for \(result[index].spec.name): \(error); its lifetime or renew_before decides")
            }
        }
        return result
    }
}
