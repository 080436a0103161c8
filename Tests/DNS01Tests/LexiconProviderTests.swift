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
}
