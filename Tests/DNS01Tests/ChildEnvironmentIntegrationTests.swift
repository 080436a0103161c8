import Foundation
import Testing
import TestLab

/// Hardening "Trust, round two" item 1: the variables dns01 reads credentials from reach no child
/// but the provider that uses them, with real hooks that write their environment down: a deploy
/// hook, the notify command, a shell provider, and a lexicon provider's bridge (here a shell
/// script standing in for the Python bridge, run the way dns01 runs it).
@Suite("Child environments") struct ChildEnvironmentIntegrationTests {
    /// What dns01 is started with: credentials of four kinds, and one plain variable.
    static let environment = [
        "DNS01_TEST_CF_TOKEN": "cf-token-withheld",            // api_token_env of a cloudflare provider
        "AWS_ACCESS_KEY_ID": "AKIDWITHHELD",                     // route53 takes them from the environment
        "AWS_SECRET_ACCESS_KEY": "aws-secret-withheld",
        "LEXICON_DREAMHOST_AUTH_TOKEN": "dh-token-for-dh-only",  // the dreamhost lexicon provider's own
        "LEXICON_CLOUDFLARE_AUTH_TOKEN": "lexicon-cf-withheld",  // no provider's: withheld from all
        "DNS01_TEST_PASSES": "passes-on",
    ]
    static let credentials = ["DNS01_TEST_CF_TOKEN", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                              "LEXICON_DREAMHOST_AUTH_TOKEN", "LEXICON_CLOUDFLARE_AUTH_TOKEN"]

    /// `env`'s output, as a dictionary.
    static func read(_ path: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    @Test func credentialVariablesReachOnlyTheProviderThatUsesThem() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test", "third.test"]))
        defer { lab.stop() }
        let directory = lab.directory
        // A shell provider and a lexicon bridge that write their environment down, then fail.
        for name in ["shell", "lexicon"] {
            // The last line quotes the Cloudflare provider's token (as if read from its file):
            // the error redacts it, though this program was never given it.
            try "#!/bin/sh\nenv > '\(directory)/\(name).env'\necho dumped, token cf-token-withheld >&2\nexit 1\n"
                .write(toFile: "\(directory)/\(name)-dump", atomically: true, encoding: .utf8)
            chmod("\(directory)/\(name)-dump", 0o755)
        }
        let config = try lab.writeConfig("environments.toml") { text in
            text.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\", \"third.test\"]", with: "zones = [\"example.test\"]") + """

                [[provider]]
                name = "dumper"
                type = "shell"
                zones = ["other.test"]
                command = "\(directory)/shell-dump"

                [[provider]]
                name = "dh"
                type = "lexicon"
                zones = ["third.test"]
                lexicon_provider = "dreamhost"
                python = "/bin/sh"
                command = "\(directory)/lexicon-dump"

                [[provider]]
                name = "cf"
                type = "cloudflare"
                zones = ["cf.invalid"]
                api_token_env = "DNS01_TEST_CF_TOKEN"
                api_url = "http://127.0.0.1:9/client/v4"

                [[provider]]
                name = "aws"
                type = "route53"
                zones = ["r53.invalid"]
                endpoint = "http://127.0.0.1:9"

                [notify]
                command = "env > '\(directory)/notify.env'"
                on = ["success"]

                [[certificate]]
                name = "good"
                domains = ["good.example.test"]
                deploy_hook = "env > '\(directory)/deploy.env'"

                """
        }
        let run = try await CLIRunner.run(["run", "-c", config], environment: Self.environment)
        #expect(run.status == 0, "stderr: \(run.stderr)")
        let shell = try await CLIRunner.run(["check", "-c", config, "-d", "www.other.test"], environment: Self.environment)
        #expect(shell.status == 1 && shell.stderr.contains("dumped"), "stderr: \(shell.stderr)")
        let lexicon = try await CLIRunner.run(["check", "-c", config, "-d", "www.third.test"], environment: Self.environment)
        #expect(lexicon.status == 1 && lexicon.stderr.contains("dumped"), "stderr: \(lexicon.stderr)")
        for result in [run, shell, lexicon] {
            #expect(!(result.stdout + result.stderr).contains("cf-token-withheld"), "stderr: \(result.stderr)")
        }
        #expect(shell.stderr.contains("dumped, token [redacted]"), "stderr: \(shell.stderr)")

        for name in ["deploy", "notify", "shell"] {
            let seen = try Self.read("\(directory)/\(name).env")
            for variable in Self.credentials {
                #expect(seen[variable] == nil, "the \(name) child saw \(variable)")
            }
            // The rest of the environment passes on.
            #expect(seen["DNS01_TEST_PASSES"] == "passes-on" && seen["PATH"] != nil, "\(name): \(seen.keys.sorted())")
        }
        #expect(try Self.read("\(directory)/deploy.env")["RENEWED_LINEAGE"] == "\(directory)/state/live/good")
        #expect(try Self.read("\(directory)/notify.env")["DNS01_EVENT"] == "success")
        // The dreamhost bridge gets its own token, and no one else's.
        let bridge = try Self.read("\(directory)/lexicon.env")
        #expect(bridge["LEXICON_DREAMHOST_AUTH_TOKEN"] == "dh-token-for-dh-only" && bridge["LEXICON_PROVIDER"] == "dreamhost")
        for variable in Self.credentials where variable != "LEXICON_DREAMHOST_AUTH_TOKEN" {
            #expect(bridge[variable] == nil, "the lexicon bridge saw \(variable)")
        }
        #expect(bridge["DNS01_TEST_PASSES"] == "passes-on")
    }
}
