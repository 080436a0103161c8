import Foundation
import Testing
import TestLab

/// Issue 16: `type = "lexicon"` through dns-lexicon's real `powerdns` provider against a real
/// pdns_server, with the records served by that PowerDNS: the lab's resolver forwards its zone
/// there, and Pebble asks the resolver.
@Suite("lexicon provider") struct LexiconProviderTests {
    @Test func issuanceThroughLexiconAndPowerDNS() async throws {
        let pdns = try await PowerDNS.start(zone: "pdns.test")
        defer { pdns.stop() }
        let lab = try await TestLab.start(.init(resolver: true, resolverForwards: ["pdns.test": "127.0.0.1:\(pdns.dnsPort)"]))
        defer { lab.stop() }
        // A Python that counts its runs and then is the virtualenv's: one per zone and action.
        let runs = "\(lab.directory)/python-runs"
        let python = "\(lab.directory)/python"
        try "#!/bin/sh\necho run >> '\(runs)'\nexec '\(TestLab.virtualenv)/bin/python' \"$@\"\n".write(toFile: python, atomically: true, encoding: .utf8)
        chmod(python, 0o755)
        let key = try String(contentsOfFile: pdns.keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let config = try lab.writeConfig("lexicon.toml") { text in
            text + """

            [[provider]]
            name = "pdns-lexicon"
            type = "lexicon"
            zones = ["pdns.test"]
            lexicon_provider = "powerdns"
            python = "\(python)"
            command = "\(ProviderIntegrationTests.repository)/providers/lexicon"
            env = { LEXICON_POWERDNS_AUTH_TOKEN = "\(key)", LEXICON_POWERDNS_PDNS_SERVER = "\(pdns.apiURL)", LEXICON_POWERDNS_PDNS_SERVER_ID = "localhost" }

            [[zone]]
            name = "pdns.test"
            nameservers = ["127.0.0.1:\(pdns.dnsPort)"]
            """
        }
        // The config holds the PowerDNS key: readable by its owner only (hardening item 3).
        chmod(config, 0o600)
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.pdns.test", "-d", "pdns.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/pdns.test/cert.pem") == ["*.pdns.test", "pdns.test"])
        // Only the value that was there before is left.
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
        let count = try String(contentsOfFile: runs, encoding: .utf8).split(separator: "\n").count
        #expect(count == 2, "Python ran \(count) times")
        #expect(!result.stderr.contains(key))
    }

    /// Without `python`, the first use makes `state_dir/lexicon-venv` with dns-lexicon from PyPI
    /// and says so; the second finds it.
    @Test func firstUseInstallsLexiconUnderTheStateDir() async throws {
        let pdns = try await PowerDNS.start(zone: "pdns.test")
        defer { pdns.stop() }
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let key = try String(contentsOfFile: pdns.keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let config = try lab.writeConfig("lexicon-managed.toml") { text in
            text.replacingOccurrences(of: "ca_bundle", with: "# ca_bundle") + """

            [[provider]]
            name = "pdns-lexicon"
            type = "lexicon"
            zones = ["pdns.test"]
            lexicon_provider = "powerdns"
            command = "\(ProviderIntegrationTests.repository)/providers/lexicon"
            env = { LEXICON_POWERDNS_AUTH_TOKEN = "\(key)", LEXICON_POWERDNS_PDNS_SERVER = "\(pdns.apiURL)" }

            [[zone]]
            name = "pdns.test"
            nameservers = ["127.0.0.1:\(pdns.dnsPort)"]
            """
        }
        chmod(config, 0o600)
        let venv = "\(lab.directory)/state/lexicon-venv"
        let first = try await CLIRunner.run(["check", "-c", config, "-d", "pdns.test"])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.stderr.contains("installing dns-lexicon==") && first.stderr.contains(venv), "stderr: \(first.stderr)")
        #expect(FileManager.default.isExecutableFile(atPath: "\(venv)/bin/python"))
        let second = try await CLIRunner.run(["check", "-c", config, "-d", "pdns.test"])
        #expect(second.status == 0, "stderr: \(second.stderr)")
        #expect(!second.stderr.contains("installing"), "stderr: \(second.stderr)")
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
    }

    @Test func badSettingsAreOneSentence() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        func check(_ provider: String) async throws -> CLIResult {
            let config = try lab.writeConfig("lexicon-bad-\(UUID().uuidString.prefix(4)).toml") { text in
                text.replacingOccurrences(of: "ca_bundle", with: "# ca_bundle") + "\n[[provider]]\nname = \"lx\"\ntype = \"lexicon\"\nzones = [\"lexicon.test\"]\n\(provider)\n"
            }
            return try await CLIRunner.run(["check", "-c", config, "-d", "example.test"])
        }
        let noProvider = try await check("python = \"/usr/bin/python3\"")
        #expect(noProvider.status == 2 && noProvider.stderr.contains("lexicon_provider"), "\(noProvider.stderr)")
        let stray = try await check("lexicon_provider = \"powerdns\"\nenv = { TOKEN = \"x\" }")
        #expect(stray.status == 2 && stray.stderr.contains("'TOKEN' is not a lexicon setting"), "\(stray.stderr)")
        let badName = try await check("lexicon_provider = \"power dns\"")
        #expect(badName.status == 2 && badName.stderr.contains("not a lexicon provider name"), "\(badName.stderr)")
    }

    /// Hardening "Trust, round two" items 2 and 3: lexicon's real dreamhost provider puts its key
    /// in the URL's query, and requests quotes that URL in its exception. The key is redacted from
    /// stderr, `--json`, history and notify's DNS01_ERROR; and the config holding it is refused
    /// until only its owner may read it. requests goes through a proxy on a closed loopback port,
    /// so it fails at once and nothing leaves the machine.
    @Test func aKeyInTheBridgesErrorIsRedactedEverywhere() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"]))
        defer { lab.stop() }
        let key = "dh-key-\(UUID().uuidString.prefix(8))"
        let notified = "\(lab.directory)/notify-error"
        let config = try lab.writeConfig("dreamhost.toml") { text in
            text.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]") + """

                [[provider]]
                name = "dh"
                type = "lexicon"
                zones = ["other.test"]
                lexicon_provider = "dreamhost"
                python = "\(TestLab.virtualenv)/bin/python"
                command = "\(ProviderIntegrationTests.repository)/providers/lexicon"
                env = { LEXICON_DREAMHOST_AUTH_TOKEN = "\(key)" }

                [notify]
                command = "printf '%s' \\"$DNS01_ERROR\\" > \(notified)"
                on = ["failure"]

                [[certificate]]
                name = "bad"
                domains = ["www.other.test"]

                """
        }
        // dns01's own requests (to Pebble on 127.0.0.1) go direct, as libcurl reads NO_PROXY too.
        let proxy = ["HTTPS_PROXY": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9",
                     "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"]
        chmod(config, 0o644)
        let refused = try await CLIRunner.run(["run", "-c", config, "--json"], environment: proxy)
        #expect(refused.status == 2, "stderr: \(refused.stderr)")
        #expect(refused.stderr.contains("[[provider]] 'dh' env LEXICON_DREAMHOST_AUTH_TOKEN: the config file \(config), which holds this secret, is readable by others (mode 644): chmod 600 it."),
                "stderr: \(refused.stderr)")

        chmod(config, 0o600)
        let result = try await CLIRunner.run(["run", "-c", config, "--json"], environment: proxy)
        #expect(result.status == 1, "stderr: \(result.stderr)")
        // The bridge's sentence is there, with the URL's query taken out.
        #expect(result.stdout.contains("dreamhost could not create 1 TXT record(s) in zone other.test") && result.stdout.contains("[redacted]"),
                "stdout: \(result.stdout)")
        #expect(!result.stdout.contains(key) && !result.stderr.contains(key), "stdout: \(result.stdout)\nstderr: \(result.stderr)")
        let error = try String(contentsOfFile: notified, encoding: .utf8)
        #expect(error.contains("dreamhost could not create") && !error.contains(key), "DNS01_ERROR: \(error)")
        let history = "\(lab.directory)/state/history"
        let files = try FileManager.default.contentsOfDirectory(atPath: history)
        #expect(!files.isEmpty)
        for file in files {
            #expect(!(try String(contentsOfFile: "\(history)/\(file)", encoding: .utf8)).contains(key), "history/\(file)")
        }
    }
}
