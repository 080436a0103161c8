import ACME
import Foundation
import Logging
import X509

/// Which `[[certificate]]` entries a `dns01 run` must issue: missing, expiring within
/// `renew_before`, or whose names changed (or all, with --force).
public enum RenewalPlan {
    public enum Reason: String, Sendable, Codable {
        case missing, expiring, namesChanged = "names-changed", forced
        /// The CA's renewal window (RFC 9773 ARI) has begun.
        case renewalWindow = "renewal-window"
    }

    public struct Decision: Sendable {
        public var spec: Configuration.CertificateSpec
        /// nil: the live certificate is fine until `notAfter - renew_before`.
        public var reason: Reason?
        public var notAfter: Date?
        /// ARI certificate ID of the live certificate, for renewalInfo and `replaces`; nil when
        /// the names changed (the new certificate replaces nothing).
        public var certificateID: String?
    }

    public static func decide(_ config: Configuration, force: Bool, now: Date = Date()) -> [Decision] {
        let store = CertificateStore(stateDir: config.acme.stateDir)
        return config.certificates.map { spec in
            guard let certificate = try? store.currentCertificate(spec.name) else {
                return Decision(spec: spec, reason: .missing, notAfter: nil)
            }
            let notAfter = certificate.notValidAfter
            let id = RenewalInfo.certificateID(of: certificate)
            if force { return Decision(spec: spec, reason: .forced, notAfter: notAfter, certificateID: id) }
            if Set(subjectAlternativeNames(certificate)) != Set(spec.domains) {
                return Decision(spec: spec, reason: .namesChanged, notAfter: notAfter, certificateID: nil)
            }
            let renewAt = notAfter.addingTimeInterval(-seconds(spec.renewBefore))
            return Decision(spec: spec, reason: now >= renewAt ? .expiring : nil, notAfter: notAfter, certificateID: id)
        }
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
    /// has passed. Without ARI, or when the CA cannot be asked, `renew_before` alone decides.
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
                logger.warning("No renewal information for \(result[index].spec.name): \(error); renew_before decides")
            }
        }
        return result
    }
}
