import Foundation
import Testing
import TestLab

/// Issue 28: `dns01 issue` with `type = "google"` against the Cloud DNS stand-in, which writes
/// every change into the lab's BIND, so Pebble validates through real DNS.
@Suite("Google Cloud DNS provider: issuance") struct GoogleIssuanceTests {
    @Test func wildcardAndApexInOneChangeEachWay() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        let config = try lab.writeConfig(replacingProviderWith: """
            [[provider]]
            name = "gcloud"
            type = "google"
            zones = ["example.test"]
            credentials_file = "\(api.keyFile)"
            api_url = "\(api.baseURL)"
            """)
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem")
                == ["*.example.test", "example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        let requests = try api.requests()
        // One token, one zone lookup, one read and one change each way.
        #expect(requests["POST /dns/v1/projects/{project}/managedZones/{zone}/changes"] == 2, "\(requests)")
        #expect(requests.values.reduce(0, +) == 6, "\(requests)")
        #expect(!result.stderr.contains("PRIVATE KEY"))
    }
}
