import ACME
import Clocks
import FoundationEssentials
import Glibc
import SwiftASN1
import X509

extension IssuanceCoordinator {
    /// valid → stored: the CSR (a fresh key of the request's type, or the user's CSR), the
    /// order finalized and waited for within `[acme] order_timeout`, the chain checked against
    /// the CSR's key and the ordered names before anything is written, stored, deploy hook run.
    func finalizeAndStore(_ job: IssuanceJob) async throws -> IssueResult {
        let request = job.request
        let client = env.client, config = env.config
        guard let order = job.order else { throw OperationError("The order for \(request.certName) is missing.") }
        let csr: [UInt8], keyPEM: String?
        if let provided = request.csr {
            (csr, keyPEM) = (provided.der, nil)
        } else {
            let (key, pem) = try request.keyType.generate()
            (csr, keyPEM) = (try CSRBuilder.make(names: request.domains, privateKey: key), pem)
        }
        let deadline = env.clock.now + config.acme.orderTimeout
        var final = try await client.finalize(order, csrDER: csr)
        if final.status != .valid {
            final = try await withinOrderTimeout(deadline) { try await client.waitForOrder(at: order.url, deadline: deadline) }
        }
        guard let certificateURL = final.certificate else {
            throw OperationError("The CA marked the order for \(request.domains.joined(separator: ", ")) valid but gave no certificate URL.")
        }
        let publicKey: Certificate.PublicKey
        do { publicKey = try CertificateSigningRequest(derEncoded: csr).publicKey } catch {
            throw OperationError("The certificate request for \(request.domains.joined(separator: ", ")) cannot be read back.")
        }
        let chain = try await client.downloadCertificate(at: certificateURL, preferredChain: config.acme.preferredChain,
                                                         publicKey: publicKey, names: request.domains)
        if env.dryRun {
            // The rehearsal ends here: the chain was obtained and checked; live/, archive/ and
            // the deploy hook stay untouched, and the new key goes with this process.
            let notAfter = chain.certificates.first?.notValidAfter ?? Date()
            env.events(.step("\(request.certName): certificate obtained (valid until \(notAfter.formatted(.iso8601))); dry run: not stored, no deploy hook"))
            return IssueResult(certName: request.certName, domains: request.domains, live: "", notAfter: notAfter,
                               recordsPresented: job.records.count + job.validatedEarly, authorizationsReused: job.reused,
                               seconds: elapsed, deployHookError: nil)
        }
        // The one install path: the chain checked again with the key that goes with it, stored
        // (in the fleet's database first), made live, deploy hook run by whoever made it live.
        let installed = try await env.store.install(
            CertificateStore.Candidate(name: request.certName, chainPEM: chain.pem, keyPEM: keyPEM, names: request.domains,
                                       requestKey: publicKey, source: .new, origin: .ca(certificateURL)),
            deployHook: request.deployHook.map { DeployHook(command: $0, config: env.config) }, events: env.events
        ) { "\(request.certName): certificate stored in \($0.live) (valid until \($0.notAfter.formatted(.iso8601)))" }
        let live = installed.live, notAfter = installed.notAfter
        if !installed.changed {
            env.events(.step("\(request.certName): certificate stored; another dns01 process of this machine made version \(installed.version.map(String.init) ?? "?") live in \(live) first, and ran its deploy hook"))
        }
        let result = IssueResult(certName: request.certName, domains: request.domains, live: live, notAfter: notAfter,
                                 recordsPresented: job.records.count + job.validatedEarly, authorizationsReused: job.reused,
                                 seconds: elapsed, deployHookError: installed.deployHookError)
        return result
    }
}
