import Foundation
import Testing
import TestLab

/// Issue 28: `dns01 issue` with `type = "azure"` against the Azure DNS stand-in, which writes
/// every record set into the lab's BIND, so Pebble validates through real DNS.
@Suite("Azure DNS provider: issuance") struct AzureIssuanceTests {
    @Test func wildcardAndApexInOneRecordSet() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        let config = try lab.writeConfig(replacingProviderWith: """
            [[provider]]
            name = "azure"
            type = "azure"
            zones = ["example.test"]
            subscription_id = "\(api.subscriptionID)"
            tenant_id = "\(api.tenantID)"
            client_id = "\(api.clientID)"
            client_secret_file = "\(api.secretFile)"
            api_url = "\(api.baseURL)"
            authority_url = "\(api.baseURL)"
            """)
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem")
                == ["*.example.test", "example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        let requests = try api.requests()
        // One token, one zone list; one read and one write each way for the one name.
        #expect(requests.values.reduce(0, +) == 6, "\(requests)")
        let secret = try String(contentsOfFile: api.secretFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!result.stderr.contains(secret))
    }
}
