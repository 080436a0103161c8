import ACME
import Clocks
import FoundationEssentials
import Glibc
import HTTP
import Logging
import X509

extension CertificateReport {
    /// `dns01 certificates --ask-ca`: the CA's suggested renewal window (RFC 9773 §4.2) of each
    /// live certificate of the config, asked without an account (renewalInfo is an
    /// unauthenticated GET), `RenewalPlan.lookupConcurrency` at a time, each within
    /// `RenewalPlan.lookupTimeout`. A window whose moment for this certificate
    /// (`RenewalInfo.windowFraction`) comes before the rule's time moves `at` to that moment, when
    /// `dns01 run` renews it. Errors go into `ariNote`.
    public mutating func askCA(_ config: Configuration, logger: Logger) async {
        let stateDir = config.acme.stateDir
        let store = CertificateStore(stateDir: stateDir)
        let asked: [(index: Int, id: String)] = certificates.indices.compactMap { index in
            let entry = certificates[index]
            guard entry.source != .live, entry.live?.placeholder == false,
                  let certificate = try? store.currentCertificate(entry.name),
                  let id = RenewalInfo.certificateID(of: certificate) else { return nil }
            return (index, id)
        }
        guard !asked.isEmpty else { return }
        let client: ACMEClient
        do {
            let transport = CurlTransport(caBundle: config.acme.caBundle, timeout: RenewalPlan.lookupTimeout, userAgent: "dns01")
            client = ACMEClient(directoryURL: config.acme.directory, transport: transport, accountKey: try AccountKey.generate(), logger: logger)
            let offered = try await Deadline.run(RenewalPlan.lookupTimeout, { try await client.directory().renewalInfo })
            guard let offered else {
                for (index, _) in asked {
                    certificates[index].renewal.ariNote = "the CA's directory did not answer within \(RenewalPlan.lookupTimeout.configText)"
                }
                return
            }
            guard offered != nil else {
                for (index, _) in asked { certificates[index].renewal.ariNote = "the CA at \(config.acme.directory) offers no renewalInfo (RFC 9773)" }
                return
            }
        } catch {
            for (index, _) in asked { certificates[index].renewal.ariNote = "cannot read the CA's directory: \(describe(error))" }
            return
        }
        let outcomes = (try? await concurrentMap(asked.map(\.id), limit: RenewalPlan.lookupConcurrency) { id -> Result<RenewalInfo?, OperationError> in
            do {
                // nil: no answer in time (the directory offers renewalInfo: checked above).
                guard let info = try await Deadline.run(RenewalPlan.lookupTimeout, { try await client.renewalInfo(certificateID: id) }) else {
                    return .success(nil)
                }
                return .success(info)
            } catch {
                return .failure(OperationError(describe(error)))
            }
        }) ?? []
        for ((index, id), outcome) in zip(asked, outcomes) {
            switch outcome {
            case .success(let info?):
                let window = info.suggestedWindow
                certificates[index].renewal.ariWindowStart = window.start
                certificates[index].renewal.ariWindowEnd = window.end
                certificates[index].renewal.ariNote = "asked the CA"
                // `dns01 run` renews at this certificate's own moment of the window.
                let moment = info.renewalTime(fraction: RenewalInfo.windowFraction(certificateID: id), now: window.start)
                if certificates[index].renewal.held == nil, certificates[index].renewal.due == nil,
                   let at = certificates[index].renewal.at, moment < at {
                    certificates[index].renewal.at = moment
                    certificates[index].renewal.rule = "ARI window: this certificate's moment in it"
                }
            case .success(nil):
                certificates[index].renewal.ariNote = "the CA sent no renewal information within \(RenewalPlan.lookupTimeout.configText)"
            case .failure(let error):
                certificates[index].renewal.ariNote = "the CA's renewalInfo failed: \(error.message)"
            }
        }
    }
}
