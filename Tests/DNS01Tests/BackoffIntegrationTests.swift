import Foundation
import Testing
import TestLab

/// Back-off through the real Pebble and BIND: a `dns01 run` right after a failed one leaves the
/// certificate alone and says until when; `--force` tries at once.
@Suite("back-off after failed runs", .serialized)
struct BackoffIntegrationTests {
    static func history(_ lab: TestLab, _ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(lab.directory)/state/history/\(name).json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A config for the CA outage tests: the CA at `ca`, a provider and resolver nobody answers
    /// at, a metrics textfile and a notify command that keeps each notice in `directory/notices`.
    static func outageConfig(_ directory: String, ca: String, acme: String = "", notifyOn: String = "", certificates: String) -> String {
        """
        [acme]
        directory = "\(ca)"
        agree_tos = true
        state_dir = "\(directory)/state"
        \(acme)
        [dns]
        resolvers = ["127.0.0.1:9"]
        [[provider]]
        name = "p"
        type = "rfc2136"
        zones = ["example.test"]
        server = "127.0.0.1:9"
        [metrics]
        textfile = "\(directory)/dns01.prom"
        [notify]
        command = "env | grep ^DNS01_ > \(directory)/notices/$DNS01_EVENT-$DNS01_CERT_NAME.env"
        \(notifyOn)
        \(certificates)
        """
    }

    /// A CA outage is heard of: with the CA's port closed, `dns01 run` fails every certificate
    /// it meant to renew (exit 1), and each gets the failure in its history (so the next run
    /// backs off), in the metrics textfile and in a notification.
    @Test func anUnreachableCAFailsEveryDueCertificateLoudly() async throws {
        let port = try FreePort.find(on: ["127.0.0.1"])
        let directory = NSTemporaryDirectory() + "dns01-outage-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(directory)/notices", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = "\(directory)/dns01.toml"
        try Self.outageConfig(directory, ca: "https://127.0.0.1:\(port)/dir", notifyOn: #"on = ["failure"]"#, certificates: """
            [[certificate]]
            name = "www"
            domains = ["www.example.test"]
            [[certificate]]
            name = "api"
            domains = ["api.example.test", "*.api.example.test"]
            """).write(toFile: config, atomically: true, encoding: .utf8)

        let result = try await CLIRunner.run(["run", "-c", config])
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stdout.contains("www: failed") && result.stdout.contains("api: failed"), "stdout: \(result.stdout)")
        #expect(result.stderr.contains("2 certificate(s) failed: www, api"), "stderr: \(result.stderr)")
        for name in ["www", "api"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/state/history/\(name).json"))
            let history = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            #expect(history["consecutiveFailures"] as? Int == 1, "\(history)")
            #expect((history["lastError"] as? String)?.contains("127.0.0.1:\(port)") == true, "names the CA: \(history)")
            let notice = try MetricsNotifyIntegrationTests.environment(at: "\(directory)/notices/failure-\(name).env")
            #expect(notice["DNS01_EVENT"] == "failure" && notice["DNS01_CERT_NAME"] == name, "\(notice)")
            #expect(notice["DNS01_ERROR"]?.contains("127.0.0.1:\(port)") == true, "\(notice)")
            #expect(notice["DNS01_CONSECUTIVE_FAILURES"] == "1", "\(notice)")
        }
        let text = try String(contentsOfFile: "\(directory)/dns01.prom", encoding: .utf8)
        #expect(MetricsNotifyIntegrationTests.sample(text, "dns01_run_certificates{status=\"failed\"}") == "2", "\(text)")
        #expect(MetricsNotifyIntegrationTests.sample(text, "dns01_certificate_consecutive_failures{name=\"www\"}") == "1", "\(text)")
        #expect(MetricsNotifyIntegrationTests.sample(text, "dns01_certificate_last_failure_timestamp_seconds{name=\"api\"}") != nil, "\(text)")

        // The next run backs off instead of knocking again.
        let next = try await CLIRunner.run(["run", "-c", config])
        #expect(next.status == 1)
        #expect(next.stderr.contains("backing off after failed attempts: www, api"), "stderr: \(next.stderr)")
    }

    /// A config error met when signing in (an unusable account key) is told to the metrics and
    /// the notify command too, but starts no back-off the fixed config would have to wait out,
    /// and stays exit 2.
    @Test func aConfigErrorAtSignInIsToldWithoutBackOff() async throws {
        let directory = NSTemporaryDirectory() + "dns01-badkey-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: "\(directory)/notices", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o700)
        let key = "\(directory)/account.key"
        try "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".write(toFile: key, atomically: true, encoding: .utf8)
        chmod(key, 0o600)
        let config = "\(directory)/dns01.toml"
        try Self.outageConfig(directory, ca: "https://127.0.0.1:9/dir", acme: #"account_key_file = "\#(key)""#, certificates: """
            [[certificate]]
            name = "www"
            domains = ["www.example.test"]
            """).write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await CLIRunner.run(["run", "-c", config])
        #expect(result.status == 2, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("The account key \(key) is not usable"), "stderr: \(result.stderr)")
        let notice = try MetricsNotifyIntegrationTests.environment(at: "\(directory)/notices/failure-www.env")
        #expect(notice["DNS01_ERROR"]?.contains("The account key \(key) is not usable") == true, "\(notice)")
        let text = try String(contentsOfFile: "\(directory)/dns01.prom", encoding: .utf8)
        #expect(MetricsNotifyIntegrationTests.sample(text, "dns01_run_certificates{status=\"failed\"}") == "1", "\(text)")
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/state/history/www.json"), "no back-off")
    }

    @Test func aRunAfterAFailedRunBacksOffAndForceRetries() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], secondaryLag: 1))
        defer { lab.stop() }
        let certificate = "\n[[certificate]]\nname = \"www\"\ndomains = [\"www.other.test\"]\n"
        // Broken: no provider serves other.test.
        let broken = try lab.writeConfig("broken.toml") {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]") + certificate
        }
        let fixed = try lab.writeConfig("fixed.toml") { $0 + certificate }

        let failed = try await CLIRunner.run(["run", "-c", broken])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("www: failed"), "\(failed.stdout)")
        let first = try Self.history(lab, "www")
        #expect(first["consecutiveFailures"] as? Int == 1)
        #expect((first["lastError"] as? String)?.contains("www.other.test") == true, "\(first)")
        let mode = try FileManager.default.attributesOfItem(atPath: "\(lab.directory)/state/history/www.json")[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // Right after, even with the DNS setup fixed: left alone, saying until when and how to retry.
        for config in [broken, fixed] {
            let held = try await CLIRunner.run(["run", "-c", config, "--json"])
            #expect(held.status == 1)
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(held.stdout.utf8)) as? [String: Any])
            #expect(summary["backingOff"] as? Int == 1 && summary["failed"] as? Int == 0, "\(held.stdout)")
            let item = try #require((summary["certificates"] as? [[String: Any]])?.first)
            #expect(item["status"] as? String == "backing-off")
            #expect((item["error"] as? String)?.hasPrefix("not retried before ") == true, "\(item)")
            #expect(item["retryAt"] as? String != nil)
            #expect(held.stderr.contains("backing off after failed attempts: www (`dns01 run --force` retries now)"), "\(held.stderr)")
            // No attempt was made: the history is as the failed run left it.
            #expect(try Self.history(lab, "www")["lastAttempt"] as? String == first["lastAttempt"] as? String)
        }
        let text = try await CLIRunner.run(["run", "-c", fixed])
        #expect(text.stdout.contains("www: backing-off (not retried before "), "\(text.stdout)")
        #expect(text.stdout.contains("1 backing off"), "\(text.stdout)")

        let forced = try await CLIRunner.run(["run", "-c", fixed, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("www: issued"), "\(forced.stdout)")
        let after = try Self.history(lab, "www")
        #expect(after["consecutiveFailures"] as? Int == 0)
        #expect(after["lastSuccess"] as? String != nil)
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/www/cert.pem") == ["www.other.test"])
    }
}
