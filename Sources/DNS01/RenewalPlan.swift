import Foundation
import X509

/// Which `[[certificate]]` entries a `dns01 run` must issue: missing, expiring within
/// `renew_before`, or whose names changed (or all, with --force).
public enum RenewalPlan {
    public enum Reason: String, Sendable, Codable {
        case missing, expiring, namesChanged = "names-changed", forced
    }

    public struct Decision: Sendable {
        public var spec: Configuration.CertificateSpec
        /// nil: the live certificate is fine until `notAfter - renew_before`.
        public var reason: Reason?
        public var notAfter: Date?
    }

    public static func decide(_ config: Configuration, force: Bool, now: Date = Date()) -> [Decision] {
        let store = CertificateStore(stateDir: config.acme.stateDir)
        return config.certificates.map { spec in
            guard let certificate = try? store.currentCertificate(spec.name) else {
                return Decision(spec: spec, reason: .missing, notAfter: nil)
            }
            let notAfter = certificate.notValidAfter
            if force { return Decision(spec: spec, reason: .forced, notAfter: notAfter) }
            if Set(subjectAlternativeNames(certificate)) != Set(spec.domains) {
                return Decision(spec: spec, reason: .namesChanged, notAfter: notAfter)
            }
            let renewAt = notAfter.addingTimeInterval(-seconds(spec.renewBefore))
            return Decision(spec: spec, reason: now >= renewAt ? .expiring : nil, notAfter: notAfter)
        }
    }

    static func subjectAlternativeNames(_ certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            if case .dnsName(let text) = name { return text.lowercased() }
            return nil
        }
    }
}
