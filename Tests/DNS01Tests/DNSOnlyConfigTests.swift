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

    /// The first hour with the package §5: with no [[provider]] at all, `check` says so at once
    /// (exit 2), before any DNS lookup: here the resolver is a closed port, and no DNS error
    /// comes first.
    @Test func checkWithoutAnyProviderSaysSoAtOnce() async throws {
        let directory = NSTemporaryDirectory() + "dns01-noprovider-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let closed = try FreePort.find(on: ["127.0.0.1"])
        let config = "\(directory)/dns01.toml"
        try "[acme]\nstate_dir = \"\(directory)/state\"\n\n[dns]\nresolvers = [\"127.0.0.1:\(closed)\"]\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let check = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(check.status == 2, "stderr: \(check.stderr)")
        #expect(check.stderr.contains("has no [[provider]]: nothing could write the challenge records"), "stderr: \(check.stderr)")
    }

    /// A name that failed before its zone was known ends its line with the time alone, not
    /// "(0.00s; )".
    @Test func aFailedCheckWithNothingFoundShowsNoEmptyPlace() async throws {
        let directory = NSTemporaryDirectory() + "dns01-noplace-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let closed = try FreePort.find(on: ["127.0.0.1"])
        let config = "\(directory)/dns01.toml"
        try """
            [acme]
            state_dir = "\(directory)/state"

            [dns]
            resolvers = ["127.0.0.1:\(closed)"]

            [[provider]]
            name = "hook"
            type = "shell"
            zones = ["example.test"]
            command = "/bin/true"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(check.status == 1, "stderr: \(check.stderr)")
        let line = try #require(check.stdout.split(separator: "\n").first { $0.hasPrefix("www.example.test: FAILED") }, "stdout: \(check.stdout)")
        #expect(line.wholeMatch(of: /.*\([0-9]+\.[0-9]{2}s\)/) != nil, "\(line)")
        #expect(!line.contains("; )"), "\(line)")
    }
}
