import Foundation
import Testing
import TestLab

/// Issue 28: a wildcard and apex certificate through Pebble with each native DNS host provider
/// (DigitalOcean, Hetzner, deSEC, Gandi, OVH) against its contract stand-in, which writes every
/// record into the lab's BIND: Pebble validates through real DNS.
@Suite("DNS host providers: issuance") struct HostAPIIssueTests {
    struct Host: Sendable, CustomStringConvertible {
        var kind: String
        var basePath: String
        /// The provider's settings but type, name and zones, given the stand-in.
        var settings: @Sendable (TestLab.HostAPI, _ tokenFile: String) -> String
        var description: String { kind }
    }

    static func token(_ api: TestLab.HostAPI, _ file: String) -> String {
        "api_token_file = \"\(file)\"\napi_url = \"\(api.baseURL)\""
    }

    static let hosts: [Host] = [
        Host(kind: "digitalocean", basePath: "/v2", settings: token),
        Host(kind: "hetzner", basePath: "/v1", settings: token),
        Host(kind: "desec", basePath: "/api/v1", settings: token),
        Host(kind: "gandi", basePath: "/v5/livedns", settings: token),
        Host(kind: "ovh", basePath: "/1.0", settings: { api, file in
            "endpoint = \"\(api.baseURL)\"\napplication_key = \"labOvhApplication\"\napplication_secret_file = \"\(file)\"\nconsumer_key_file = \"\(file)\""
        }),
    ]

    static func config(_ lab: TestLab, _ host: Host, _ api: TestLab.HostAPI, tokenFile: String? = nil) throws -> String {
        try lab.writeConfig(replacingProviderWith: """
            [[provider]]
            name = "host"
            type = "\(host.kind)"
            zones = ["example.test"]
            \(host.settings(api, tokenFile ?? api.tokenFile))
            """)
    }

    @Test(arguments: hosts) func wildcardAndApex(_ host: Host) async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let api = try await lab.startHostAPI(host.kind, basePath: host.basePath)
        let config = try Self.config(lab, host, api)
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem")
                == ["*.example.test", "example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        #expect(!(result.stdout + result.stderr).contains(api.token))
        print("\(host.kind) issue: \(try api.totalRequests()) requests \(try api.requests())")

        // A wrong credential through the CLI: exit 1, one sentence, no secret.
        let wrong = "\(lab.directory)/wrong-token"
        try api.token.replacing("lab-", with: "bad-").write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let denied = try await CLIRunner.run(["check", "-c", try Self.config(lab, host, api, tokenFile: wrong), "-d", "example.test"])
        let output = denied.stdout + denied.stderr
        print("\(host.kind) check with a wrong token: \(output)")
        #expect(denied.status == 1, "\(output)")
        #expect(output.contains("provider 'host' (\(host.kind))") && output.contains("zone example.test"), "\(output)")
        #expect(!output.contains("bad-") && !output.contains(api.token))
    }
}
