import Foundation
import Testing
import TestLab

/// Issue 15 §9: the DNS-only commands (certbot hooks, `check`) need no `[acme] directory`, as
/// README says: only `[dns]`, `[[provider]]` and `state_dir` matter to them. The commands that
/// talk to the CA still say that the directory is missing.
@Suite("Config without a CA") struct DNSOnlyConfigTests {
    static func config(_ lab: TestLab) throws -> String {
        try lab.writeConfig("dns-only.toml") { text in
            text.components(separatedBy: "\n").filter {
                !($0.hasPrefix("directory") || $0.hasPrefix("ca_bundle") || $0.hasPrefix("email") || $0.hasPrefix("agree_tos"))
            }.joined(separator: "\n")
        }
    }

    @Test func certbotHooksAndCheckRunWithoutADirectory() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.config(lab)
        #expect(try !String(contentsOfFile: config, encoding: .utf8).contains("directory"))

        let check = try await CLIRunner.run(["check", "-c", config, "-d", "example.test"])
        #expect(check.status == 0, "stderr: \(check.stderr)")

        let value = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
        let env = ["CERTBOT_DOMAIN": "example.test", "CERTBOT_VALIDATION": value, "CERTBOT_REMAINING_CHALLENGES": "0",
                   "CERTBOT_ALL_DOMAINS": "example.test", "DNS01_CONFIG": config]
        let auth = try await CLIRunner.run(["certbot", "auth"], environment: env)
        #expect(auth.status == 0, "stderr: \(auth.stderr)")
        #expect(try lab.txtValues("_acme-challenge.example.test", at: lab.secondary) == [value])
        let cleanup = try await CLIRunner.run(["certbot", "cleanup"], environment: env)
        #expect(cleanup.status == 0, "stderr: \(cleanup.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)

        let issue = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
        #expect(issue.status == 2)
        #expect(issue.stderr.contains("[acme]: key 'directory' is required"), "stderr: \(issue.stderr)")
    }
}
