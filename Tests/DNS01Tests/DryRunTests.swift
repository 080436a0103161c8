import Foundation
import Testing
import TestLab

/// Issue 18: `dns01 run --dry-run` obtains every certificate from the staging CA and throws it
/// away: live/, archive/, the journal, the run history and the zone's records stay as they were,
/// no deploy hook runs, and the exit status is a real run's.
@Suite("dns01 run --dry-run", .serialized)
struct DryRunTests {
    /// Every file and link under `directory`: path, type, mode, link target and SHA-256 of the
    /// content (independent of dns01's own code); "" when the directory does not exist.
    static func tree(_ directory: String) throws -> String {
        guard FileManager.default.fileExists(atPath: directory) else { return "" }
        let script = "cd \"$1\" && find . -printf '%p %y %m %l\\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum"
        let result = try runProcess("/bin/sh", ["-c", script, "tree", directory])
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// The zone's records as the primary serves them by AXFR, without its SOA (whose serial
    /// every write changes), sorted.
    static func zoneRecords(_ lab: TestLab, _ zone: String = "example.test") throws -> [String] {
        let parts = lab.primary.split(separator: ":")
        let result = try runProcess("/usr/bin/dig", ["+nocmd", "+nostats", "+nocomments", "@\(parts[0])", "-p", String(parts[1]), "AXFR", zone])
        #expect(result.status == 0, "\(result.stderr)")
        let records = result.stdout.split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix(";") && !$0.isEmpty && !$0.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains("SOA") }
        #expect(!records.isEmpty, "no AXFR of \(zone): \(result.stdout)")
        return records.sorted()
    }

    @Test func aDryRunAgainstPebbleLeavesLiveJournalHistoryAndZoneAsBefore() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let marker = "\(lab.directory)/deployed"
        let certificates = """

            [[certificate]]
            name = "web"
            domains = ["*.web.example.test", "web.example.test"]
            deploy_hook = "echo \\"$RENEWED_LINEAGE\\" >> \(marker)"

            [[certificate]]
            name = "mail"
            domains = ["mail.example.test"]

            """
        // The staging CA is Pebble under another host name: another CA to dns01, with its own account.
        let staging = lab.pebbleDirectory.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "agree_tos = true", with: "agree_tos = true\nstaging_directory = \"\(staging)\"") + certificates
        }
        let first = try await CLIRunner.run(["run", "-c", config])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: marker))
        try FileManager.default.removeItem(atPath: marker)

        let state = "\(lab.directory)/state"
        let before = try ["live", "archive", "journal", "history"].map { try Self.tree("\(state)/\($0)") }
        let zoneBefore = try Self.zoneRecords(lab)
        #expect(!before[0].isEmpty && !before[3].isEmpty)

        let dry = try await CLIRunner.run(["run", "-c", config, "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stderr.contains("dry run: 2 certificate(s) to obtain from \(staging) and throw away"), "\(dry.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
        #expect(summary["dryRun"] as? Bool == true)
        // Neither is due; both are obtained all the same, and say so.
        #expect(summary["issued"] as? Int == 2, "\(dry.stdout)")
        let items = try #require(summary["certificates"] as? [[String: Any]])
        #expect(items.allSatisfy { $0["reason"] as? String == "not-due" }, "\(items)")
        #expect(dry.stderr.contains("Dry run against \(staging)"), "\(dry.stderr)")
        #expect(dry.stderr.contains("dry run: not stored"), "\(dry.stderr)")

        let after = try ["live", "archive", "journal", "history"].map { try Self.tree("\(state)/\($0)") }
        #expect(after[0] == before[0], "live/ changed")
        #expect(after[1] == before[1], "archive/ changed")
        #expect(after[2] == before[2], "the journal changed")
        #expect(after[3] == before[3], "the run history changed")
        let zoneAfter = try Self.zoneRecords(lab)
        #expect(zoneAfter == zoneBefore)
        // For the record: what was compared.
        var figures: [String] = []
        for (index, part) in ["live", "archive", "journal", "history"].enumerated() {
            let sums = try runProcess("/bin/sh", ["-c", "printf %s \"$1\" | sha256sum | cut -c1-16; printf %s \"$2\" | sha256sum | cut -c1-16",
                                                  "d", before[index], after[index]]).stdout.split(separator: "\n")
            figures.append("\(part): \(sums.joined(separator: " -> "))")
        }
        figures.append("zone records (AXFR minus SOA): \(zoneBefore.count) -> \(zoneAfter.count), identical: \(zoneBefore == zoneAfter)")
        print(figures.joined(separator: "\n"))
        #expect(!FileManager.default.fileExists(atPath: marker), "the deploy hook ran")
        let stagingHost = try #require(URL(string: staging)).port.map { "localhost_\($0)" }
        #expect(FileManager.default.fileExists(atPath: "\(state)/accounts/\(stagingHost ?? "")/account.json"))

        // The text form says what happened.
        let text = try await CLIRunner.run(["run", "-c", config, "--dry-run"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("web: obtained (dry run: not stored"), "\(text.stdout)")
        #expect(try Self.tree("\(state)/live") == before[0])
    }

    @Test func aDryRunFailsAsARealRunWouldAndRecordsNothing() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], secondaryLag: 0))
        defer { lab.stop() }
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]")
                + "\n[[certificate]]\nname = \"good\"\ndomains = [\"good.example.test\"]\n"
                + "\n[[certificate]]\nname = \"broken\"\ndomains = [\"www.other.test\"]\n"
        }
        let dry = try await CLIRunner.run(["run", "-c", config, "--dry-run"])
        #expect(dry.status == 1, "\(dry.stderr)")
        #expect(dry.stdout.contains("broken: failed"), "\(dry.stdout)")
        #expect(dry.stdout.contains("good: obtained"), "\(dry.stdout)")
        let state = "\(lab.directory)/state"
        #expect(try Self.tree("\(state)/live").isEmpty)
        #expect(try Self.tree("\(state)/history").isEmpty)
        #expect(try lab.leftoverChallengeValues(["good.example.test"]).isEmpty)
    }
}
