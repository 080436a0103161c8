import Foundation
import Testing
import TestLab

/// Issue 6: the real certbot, against Pebble, with dns01 as its manual auth and cleanup hooks.
@Suite("certbot hooks", .serialized)
struct CertbotHookTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// Runs certbot with its directories in the lab and Pebble's TLS certificate trusted.
    static func certbot(_ arguments: [String], lab: TestLab) async throws -> CLIResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result {
                    var env = ProcessInfo.processInfo.environment
                    env["REQUESTS_CA_BUNDLE"] = lab.pebbleCAFile
                    let result = try CapturedRun.run("/usr/bin/certbot", arguments + [
                        "--non-interactive", "--config-dir", "\(lab.directory)/certbot/config",
                        "--work-dir", "\(lab.directory)/certbot/work", "--logs-dir", "\(lab.directory)/certbot/logs",
                    ], environment: env, mergeOutput: true)
                    return CLIResult(status: result.status, stdout: result.stdout, stderr: "")
                })
            }
        }
    }

    @Test func certbotWithDns01HooksSixNamesThenRenew() async throws {
        // certbot 2.1 (Debian 12) does not survive Pebble's default 5 % nonce rejection (its
        // badNonce retry ends in "AttributeError: can't set attribute"), so it is off here.
        let lab = try await TestLab.start(.init(secondaryLag: 5, pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"]))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let prefix = "/usr/bin/env DNS01='\(CLIRunner.executable)' DNS01_CONFIG='\(config)' "
        let names = ["*.example.test", "example.test", "a.example.test", "b.example.test", "c.example.test", "d.example.test"]
        let first = try await Self.certbot(
            ["certonly", "--server", lab.pebbleDirectory, "--agree-tos", "--register-unsafely-without-email",
             "--manual", "--preferred-challenges", "dns", "--cert-name", "six",
             "--manual-auth-hook", prefix + "\(Self.repository)/hooks/certbot-auth",
             "--manual-cleanup-hook", prefix + "\(Self.repository)/hooks/certbot-cleanup"]
                + names.flatMap { ["-d", $0] }, lab: lab)
        #expect(first.status == 0, "\(first.stdout)")
        let cert = "\(lab.directory)/certbot/config/live/six/cert.pem"
        #expect(try subjectAlternativeNames(ofCertificateAt: cert) == names.sorted())
        #expect(try lab.leftoverChallengeValues(names).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/certbot").filter { !$0.hasPrefix(".") }.isEmpty)
        // The cleanup hooks (other processes than the auth hook) took every record out of the journal.
        #expect(JournalIntegrationTests.journalEntries(lab).isEmpty)
        // Quiet hooks: certbot shows a hook's stderr as a warning.
        #expect(!first.stdout.contains("ran with error output"), "\(first.stdout)")

        // The renewal config holds the hooks; renew uses them.
        let renewal = try String(contentsOfFile: "\(lab.directory)/certbot/config/renewal/six.conf", encoding: .utf8)
        #expect(renewal.contains("hooks/certbot-auth"))
        let before = try String(contentsOfFile: cert, encoding: .utf8)
        let renew = try await Self.certbot(["renew", "--force-renewal", "--no-random-sleep-on-renew", "--cert-name", "six"], lab: lab)
        #expect(renew.status == 0, "\(renew.stdout)")
        #expect(try String(contentsOfFile: "\(lab.directory)/certbot/config/live/six/cert.pem", encoding: .utf8) != before)
        #expect(try lab.leftoverChallengeValues(names).isEmpty)
        #expect(!renew.stdout.contains("left by process"), "\(renew.stdout)")
        #expect(JournalIntegrationTests.journalEntries(lab).isEmpty)
    }

    @Test func withoutCertbotVariablesExitsTwoNamingWhatIsMissing() async throws {
        let result = try await CLIRunner.run(["certbot", "auth", "-c", "/nonexistent.toml"],
                                             environment: ["CERTBOT_DOMAIN": "", "CERTBOT_VALIDATION": ""])
        #expect(result.status == 2)
        #expect(result.stderr.contains("CERTBOT_DOMAIN"), "\(result.stderr)")
    }

    @Test func aNameNoProviderServesExitsOneNamingIt() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], startPebble: false))
        defer { lab.stop() }
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]")
                .replacingOccurrences(of: "ca_bundle = \"\(lab.pebbleCAFile)\"\n", with: "")
        }
        let result = try await CLIRunner.run(["certbot", "auth", "-c", config], environment: [
            "CERTBOT_DOMAIN": "www.other.test", "CERTBOT_VALIDATION": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
            "CERTBOT_REMAINING_CHALLENGES": "0", "CERTBOT_ALL_DOMAINS": "www.other.test",
        ])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("other.test"), "\(result.stderr)")
        #expect(try lab.txtValues("_acme-challenge.www.other.test", at: lab.primary).isEmpty)
    }
}
