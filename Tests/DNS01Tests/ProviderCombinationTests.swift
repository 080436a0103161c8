import ACME
@testable import DNS01
import Foundation
import Testing
import TestLab

/// Issue 16 items 5 and 6: several providers for one zone, and providers that hold one TXT
/// value per name.
@Suite("Provider combinations") struct ProviderCombinationTests {
    /// A DNS host whose API keeps one TXT value per name: `present` replaces the whole set.
    static func oneValueHook(_ lab: TestLab) throws -> String {
        let path = "\(lab.directory)/one-value-hook"
        let host = lab.primary.split(separator: ":")
        try """
        #!/bin/sh
        # present replaces every TXT value at the name, as a one-value-per-name host does
        set -e
        if [ "$1" = present ]; then change="update delete $2 TXT
        update add $2 60 TXT \\"$3\\""; else change="update delete $2 TXT \\"$3\\""; fi
        printf 'server %s %s\\nzone example.test\\n%s\\nsend\\n' \(host[0]) \(host[1]) "$change" | nsupdate -k '\(lab.tsigKeyFile)'
        """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    static func config(_ lab: TestLab, provider: String) throws -> String {
        try lab.writeConfig(replacingProviderWith: provider)
    }

    @Test func aOneValueHostFailsWithoutSingleValueAndIssuesWithIt() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let hook = try Self.oneValueHook(lab)
        let provider = "[[provider]]\nname = \"one\"\ntype = \"shell\"\nzones = [\"example.test\"]\ncommand = \"\(hook)\"\n"
        // Without the flag, the apex's value replaces the wildcard's: the two never stand side by
        // side, and the wait for both ends at its timeout.
        let plainConfig = try Self.config(lab, provider: provider)
        try String(contentsOfFile: plainConfig, encoding: .utf8)
            .replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"4s\"")
            .write(toFile: plainConfig, atomically: true, encoding: .utf8)
        let plain = try await CLIRunner.run(["issue", "-c", plainConfig, "-d", "*.example.test", "-d", "example.test"])
        #expect(plain.status == 1, "stderr: \(plain.stderr)")
        #expect(plain.stderr.contains("Timed out waiting for the challenge records"), "stderr: \(plain.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        // With it, the two are validated one after the other.
        let flagged = try await CLIRunner.run(["issue", "-c", try Self.config(lab, provider: provider + "single_value = true\n"),
                                               "-d", "*.example.test", "-d", "example.test", "--cert-name", "flagged"])
        #expect(flagged.status == 0, "stderr: \(flagged.stderr)")
        #expect(flagged.stderr.contains("round 1 of 2"), "stderr: \(flagged.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/flagged/cert.pem") == ["*.example.test", "example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    /// A hidden primary (RFC 2136) and a public host's API (the Cloudflare stand-in) for one
    /// zone: every record goes through both and is removed through both.
    @Test func aZoneWrittenThroughTwoProviders() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI()
        let config = try lab.writeConfig("two-providers.toml") { text in
            text.replacingOccurrences(of: "[[zone]]\nname = \"example.test\"", with: "[[zone]]\nname = \"example.test\"\nprovider = [\"lab\", \"cf\"]")
                + "\n[[provider]]\nname = \"cf\"\ntype = \"cloudflare\"\nzones = [\"cloudflare.invalid\"]\napi_token_file = \"\(api.tokenFile)\"\napi_url = \"\(api.baseURL)\"\n"
        }
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("provider = [\"lab\", \"cf\"]"))
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("via provider 'lab'") && result.stderr.contains("via provider 'cf'"), "stderr: \(result.stderr)")
        let requests = try api.requests()
        #expect(requests["POST /client/v4/zones/{id}/dns_records/batch"] == 2, "\(requests)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal").filter { $0.hasSuffix(".json") }.isEmpty)
    }

    @Test func roundsKeepOneValuePerNameAtSingleValueProviders() throws {
        func challenge(_ name: String, _ value: String, providers: [String]) -> PlannedChallenge {
            let target = ChallengeTarget(domain: name, challengeName: "_acme-challenge.\(name)", recordName: "_acme-challenge.\(name)",
                                         zone: "example.test", provider: providers[0], alsoProviders: Array(providers.dropFirst()))
            let authorization = try! JSONDecoder().decode(Authorization.self, from: Data(#"{"identifier":{"type":"dns","value":"\#(name)"},"status":"pending","challenges":[]}"#.utf8))
            let acme = try! JSONDecoder().decode(Challenge.self, from: Data(#"{"type":"dns-01","url":"https://ca/\#(value)","status":"pending","token":"t"}"#.utf8))
            return PlannedChallenge(authorization: authorization, challenge: acme, kind: .dns01, record: ChallengeRecord(target: target, value: value))
        }
        func prepared(_ challenges: [PlannedChallenge], job: Int = 0) -> (index: Int, challenges: [PlannedChallenge]) {
            (job, challenges)
        }
        let wildcardAndApex = [challenge("example.test", "w", providers: ["one"]), challenge("example.test", "a", providers: ["one"]),
                               challenge("www.example.test", "x", providers: ["one"])]
        // Two values at one name of a single-value provider: two rounds; the other name goes in the first.
        let rounds = IssuanceCoordinator.rounds([prepared(wildcardAndApex)], singleValue: ["one"])
        #expect(rounds.map { $0.map { $0.challenge.record?.value } } == [["w", "x"], ["a"]])
        // No single-value provider: one round, as before.
        #expect(IssuanceCoordinator.rounds([prepared(wildcardAndApex)], singleValue: []).count == 1)
        // A second provider of the record that holds one value counts too; certificates share rounds.
        let shared = [challenge("example.test", "b", providers: ["many", "one"])]
        let two = IssuanceCoordinator.rounds([prepared(Array(wildcardAndApex.prefix(1)), job: 0), prepared(shared, job: 1)], singleValue: ["one"])
        #expect(two.map { $0.map(\.index) } == [[0], [1]])
    }
}
