import Foundation
import Testing
import TestLab

/// `give_up_after` through the real Pebble and BIND: a certificate whose failures have gone on
/// for its give_up_after is no longer tried, says so (exit 1), and `--force` resets it. Time
/// passes by moving the stored history back, not by waiting. The certificate has a placeholder
/// all along, and the summary says so.
@Suite("give_up_after through Pebble and BIND", .serialized)
struct GiveUpIntegrationTests {
    @Test func givenUpUntilForced() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], secondaryLag: 0))
        defer { lab.stop() }
        let certificate = "\n[[certificate]]\nname = \"www\"\ndomains = [\"www.other.test\"]\ngive_up_after = \"1h\"\nplaceholder = true\n"
        // Broken: no provider serves other.test.
        let broken = try lab.writeConfig("broken.toml") {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]") + certificate
        }
        let fixed = try lab.writeConfig("fixed.toml") { $0 + certificate }
        let historyPath = "\(lab.directory)/state/history/www.json"

        let failed = try await CLIRunner.run(["run", "-c", broken])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("www: failed ("), "\(failed.stdout)")
        #expect(failed.stdout.contains("; live/www holds a self-signed placeholder\n"), "\(failed.stdout)")

        // Two hours pass, and the history is one an older dns01 wrote (no firstFailure): its
        // last failure stands for the streak's start. The back-off has passed, so the next run
        // tries; its failure comes after give_up_after and gives up.
        let before = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: historyPath))) as? [String: Any])
        #expect(before["firstFailure"] as? String != nil, "\(before)")
        let twoHoursAgo = Date().addingTimeInterval(-7200).formatted(.iso8601)
        try """
            {"consecutiveFailures": 1, "lastAttempt": "\(twoHoursAgo)", "lastFailure": "\(twoHoursAgo)", "lastError": "old failure"}
            """.write(toFile: historyPath, atomically: true, encoding: .utf8)
        let last = try await CLIRunner.run(["run", "-c", broken])
        #expect(last.status == 1)
        #expect(last.stdout.contains("www: failed"), "\(last.stdout)")

        // From now on it is not tried, even with the DNS set-up fixed: given up, with why.
        let attempted = try Data(contentsOf: URL(fileURLWithPath: historyPath))
        for config in [broken, fixed] {
            let held = try await CLIRunner.run(["run", "-c", config, "--json"])
            #expect(held.status == 1)
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(held.stdout.utf8)) as? [String: Any])
            #expect(summary["givenUp"] as? Int == 1 && summary["failed"] as? Int == 0 && summary["backingOff"] as? Int == 0, "\(held.stdout)")
            let item = try #require((summary["certificates"] as? [[String: Any]])?.first)
            #expect(item["status"] as? String == "given-up")
            #expect(item["consecutiveFailures"] as? Int == 2)
            #expect(item["failingSince"] as? String == twoHoursAgo, "\(item)")
            #expect(item["placeholder"] as? Bool == true, "\(item)")
            let error = try #require(item["error"] as? String)
            #expect(error.hasPrefix("given up: failing since \(twoHoursAgo) (2 failed attempts, give_up_after 1h), not retried until `dns01 run --force` resets it; last error: "), "\(error)")
            #expect(error.contains("www.other.test"), "\(error)")
            #expect(held.stderr.contains("1 certificate(s) given up after failing for their give_up_after: www (`dns01 run --force` resets and retries)."), "\(held.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: historyPath)) == attempted)
        }
        let text = try await CLIRunner.run(["run", "-c", fixed])
        #expect(text.status == 1)
        #expect(text.stdout.contains("www: given-up (given up: failing since "), "\(text.stdout)")
        #expect(text.stdout.contains("0 failed, 1 given up in "), "\(text.stdout)")

        // --force resets the streak and tries: issued; the history starts afresh.
        let forced = try await CLIRunner.run(["run", "-c", fixed, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("www: issued (placeholder)\n"), "\(forced.stdout)")
        let after = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: historyPath))) as? [String: Any])
        #expect(after["consecutiveFailures"] as? Int == 0)
        #expect(after["firstFailure"] == nil)
        #expect(after["lastSuccess"] as? String != nil)
        let quiet = try await CLIRunner.run(["run", "-c", fixed])
        #expect(quiet.status == 0, "\(quiet.stderr)")
        #expect(quiet.stdout.contains("0 issued, 1 not due, 0 failed in "), "\(quiet.stdout)")
    }
}
