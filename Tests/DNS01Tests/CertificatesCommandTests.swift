import Foundation
import Testing
import TestLab
import Settings
@testable import DNS01

/// Issue 18: `dns01 certificates` reports what live/ holds, when and why `dns01 run` renews each
/// certificate, and how the last attempt went, from the state directory alone.
@Suite("dns01 certificates", .serialized)
struct CertificatesCommandTests {
    @Test(arguments: [
        (Configuration.ACME.letsEncryptProduction, nil, Configuration.ACME.letsEncryptStaging),
        (Configuration.ACME.letsEncryptProduction + "/", nil, Configuration.ACME.letsEncryptStaging),
        ("https://ca.example/dir", nil, "https://ca.example/dir"),
        ("https://ca.example/dir", "https://staging.ca.example/dir", "https://staging.ca.example/dir"),
    ] as [(String, String?, String)])
    func dryRunDirectory(directory: String, staging: String?, expected: String) {
        let acme = Configuration.ACME(directory: directory, agreeTOS: true, stateDir: "/tmp/x", concurrency: 1,
                                      accountKeyType: .ec256, accountKeyFile: "/etc/dns01/key.pem", stagingDirectory: staging)
        #expect(acme.dryRunDirectory == expected)
        // Another CA gets an account of its own, not the production key.
        #expect(acme.forDryRun.accountKeyFile == (expected == directory ? "/etc/dns01/key.pem" : nil))
    }

    @Test func stagingDirectoryMustBeAURL() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/dns01.toml"
        try "[acme]\ndirectory = \"https://ca.example/dir\"\nstaging_directory = \"ftp://x\"\nstate_dir = \"state\"\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: ConfigError.self) { try Configuration.load(path: path) }
    }

    /// Three certificates issued by the lab, one failed (its zone has no provider), and one in
    /// live/ that the config does not name.
    @Test func threeCertificatesOneFailed() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], secondaryLag: 1))
        defer { lab.stop() }
        let certificates = """

            [[certificate]]
            name = "web"
            domains = ["*.web.example.test", "web.example.test"]

            [[certificate]]
            name = "mail"
            domains = ["mail.example.test"]
            key_type = "rsa2048"
            renew_before = "30d"

            [[certificate]]
            name = "broken"
            domains = ["www.other.test"]

            """
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]") + certificates
        }
        // --no-renew: a certificate in live/ that dns01 run leaves alone.
        let extra = try await CLIRunner.run(["issue", "-c", config, "-d", "extra.example.test", "--cert-name", "extra", "--no-renew"])
        #expect(extra.status == 0, "\(extra.stderr)")
        let run = try await CLIRunner.run(["run", "-c", config])
        #expect(run.status == 1, "\(run.stderr)")

        let result = try await CLIRunner.run(["certificates", "-c", config, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let entries = try #require(report["certificates"] as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["web", "mail", "broken", "extra"])
        let byName = Dictionary(uniqueKeysWithValues: entries.map { ($0["name"] as? String ?? "", $0) })

        let web = try #require(byName["web"]?["live"] as? [String: Any])
        #expect(web["names"] as? [String] == ["*.web.example.test", "web.example.test"])
        #expect(web["keyType"] as? String == "ec256")
        #expect((web["issuer"] as? String)?.contains("Pebble") == true, "\(web)")
        #expect(web["placeholder"] as? Bool == false)
        let webRenewal = try #require(byName["web"]?["renewal"] as? [String: Any])
        #expect(webRenewal["due"] == nil)
        #expect((webRenewal["rule"] as? String)?.hasPrefix("lifetime: ") == true, "\(webRenewal)")
        #expect((webRenewal["ariNote"] as? String)?.hasPrefix("unknown") == true)
        #expect((byName["web"]?["lastRun"] as? [String: Any])?["result"] as? String == "success")

        let mail = try #require(byName["mail"]?["live"] as? [String: Any])
        #expect(mail["keyType"] as? String == "rsa2048")
        #expect((byName["mail"]?["renewal"] as? [String: Any])?["rule"] as? String == "renew_before 30d")

        // The failed one: nothing in live/, due (missing), held back by the back-off, its error kept.
        let broken = try #require(byName["broken"])
        #expect(broken["live"] == nil)
        let brokenRenewal = try #require(broken["renewal"] as? [String: Any])
        #expect(brokenRenewal["due"] as? String == "missing")
        #expect(brokenRenewal["held"] as? String == "backing-off")
        #expect(brokenRenewal["at"] as? String != nil)
        let last = try #require(broken["lastRun"] as? [String: Any])
        #expect(last["result"] as? String == "failure")
        #expect(last["consecutiveFailures"] as? Int == 1)
        #expect((last["error"] as? String)?.contains("www.other.test") == true, "\(last)")

        let other = try #require(byName["extra"])
        #expect(other["inConfig"] as? Bool == false)
        #expect((other["live"] as? [String: Any])?["names"] as? [String] == ["extra.example.test"])

        // --ask-ca asks the CA without an account; Debian's Pebble offers no renewalInfo, which
        // the note says (the failed one, with nothing in live/, is not asked).
        let asked = try await CLIRunner.run(["certificates", "-c", config, "--json", "--ask-ca"])
        #expect(asked.status == 0, "\(asked.stderr)")
        let askedEntries = try #require((try JSONSerialization.jsonObject(with: Data(asked.stdout.utf8)) as? [String: Any])?["certificates"] as? [[String: Any]])
        let webAsked = try #require(askedEntries.first { $0["name"] as? String == "web" }?["renewal"] as? [String: Any])
        #expect(webAsked["ariWindowStart"] == nil, "\(webAsked)")
        #expect((webAsked["ariNote"] as? String)?.hasSuffix("offers no renewalInfo (RFC 9773)") == true, "\(webAsked)")
        let brokenAsked = try #require(askedEntries.first { $0["name"] as? String == "broken" }?["renewal"] as? [String: Any])
        #expect((brokenAsked["ariNote"] as? String)?.hasPrefix("unknown") == true, "\(brokenAsked)")

        // The table: every line within 80 columns, each certificate named, the error shown.
        let table = try await CLIRunner.run(["certificates", "-c", config])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.allSatisfy { $0.count <= 80 }, "\(table.stdout)")
        for name in ["web", "mail", "broken", "extra"] { #expect(lines.contains { $0.hasPrefix(name + " ") }, "\(name)") }
        #expect(table.stdout.contains("not in the config"))
        #expect(table.stdout.contains("backing-off"))
    }

    /// Issue 27 item 5: a run that finds nothing due still says so: LAST reads "checked" (not
    /// "-", nor the older attempt's result), with the time in the details and in --json; a run
    /// that attempts it shows the attempt's result again.
    @Test func aRunWithNothingDueIsShownAsChecked() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0 + "\n[[certificate]]\nname = \"web\"\ndomains = [\"*.web.example.test\", \"web.example.test\"]\n" }
        func lastColumn() async throws -> (String, String) {
            let table = try await CLIRunner.run(["certificates", "-c", config])
            #expect(table.status == 0, "\(table.stderr)")
            let row = try #require(table.stdout.split(separator: "\n").first { $0.hasPrefix("web ") }, "\(table.stdout)")
            return (String(row.split(separator: " ").last ?? ""), table.stdout)
        }
        let first = try await CLIRunner.run(["run", "-c", config])
        #expect(first.status == 0 && first.stdout.contains("1 issued"), "\(first.stdout)\(first.stderr)")
        #expect(try await lastColumn().0 == "success")

        let second = try await CLIRunner.run(["run", "-c", config])
        #expect(second.status == 0 && second.stdout.contains("0 issued, 1 not due"), "\(second.stdout)\(second.stderr)")
        let (last, table) = try await lastColumn()
        #expect(last == "checked", "\(table)")
        #expect(table.contains("last checked by dns01 run at "), "\(table)")
        #expect(table.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(table)")
        let json = try await CLIRunner.run(["certificates", "-c", config, "--json"])
        let entry = try #require(((try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["certificates"] as? [[String: Any]])?.first)
        let checked = try #require((entry["lastChecked"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }, "\(entry)")
        let attempt = try #require(((entry["lastRun"] as? [String: Any])?["at"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) })
        #expect(checked >= attempt)
        // --force attempts it: its result again.
        let forced = try await CLIRunner.run(["run", "-c", config, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try await lastColumn().0 == "success")
    }

    @Test func emptyConfigAndStateSaySo() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/dns01.toml"
        // No CA is asked: an unreachable directory does not matter.
        try "[acme]\ndirectory = \"https://127.0.0.1:1/dir\"\nstate_dir = \"state\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let text = try await CLIRunner.run(["certificates", "-c", path])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.hasPrefix("No certificates"), "\(text.stdout)")
        let json = try await CLIRunner.run(["certificates", "-c", path, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((report["certificates"] as? [Any])?.isEmpty == true)
    }
}
