import Foundation
import Testing
import TestLab

/// `[metrics]` and `[notify]` through the real Pebble and BIND, checked by the real promtool:
/// one certificate issued and one failed (no provider serves its zone), then a run where nothing
/// is due and the notify command warns of expiry and fails, then the journal's priority prefixes.
@Suite("metrics textfile and notify command through Pebble and BIND", .serialized)
struct MetricsNotifyIntegrationTests {
    static let promtool = "/usr/bin/promtool"

    /// The value of the one sample line starting with `series` followed by a space.
    static func sample(_ text: String, _ series: String) -> String? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.map { String($0.dropFirst(series.count + 1)) }
    }

    /// The `KEY=value` lines a notification's env dump holds.
    static func environment(at path: String) throws -> [String: String] {
        var result: [String: String] = [:]
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
        }
        return result
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: promtool), "promtool (Debian's prometheus) is not installed"))
    func issuedAndFailedThenExpiringThenJournal() async throws {
        // 30-day certificates: fresh ones are not due, and are within a 365-day expiry warning.
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], secondaryLag: 0,
                                                pebbleConfigExtra: ["certificateValidityPeriod": "2592000"]))
        defer { lab.stop() }
        let textfile = "\(lab.directory)/node-exporter/dns01.prom"
        let notices = "\(lab.directory)/notices"
        try FileManager.default.createDirectory(atPath: "\(lab.directory)/node-exporter", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: notices, withIntermediateDirectories: true)
        let good = "\n[[certificate]]\nname = \"good\"\ndomains = [\"*.good.example.test\", \"good.example.test\"]\n"
        let bad = "\n[[certificate]]\nname = \"bad\"\ndomains = [\"www.other.test\"]\n"
        // The command dumps its DNS01_ variables to a file named after the event and certificate.
        let dump = "env | grep ^DNS01_ > \(notices)/$DNS01_EVENT-$DNS01_CERT_NAME.env"
        let sections = "\n[metrics]\ntextfile = \"\(textfile)\"\n[notify]\ncommand = \"\(dump)\"\non = [\"failure\", \"success\"]\n"
        // No provider serves other.test: "bad" fails, "good" is issued.
        let config = try lab.writeConfig("both.toml") {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]") + sections + good + bad
        }
        let first = try await CLIRunner.run(["run", "-c", config])
        #expect(first.status == 1, "\(first.stderr)")
        #expect(first.stdout.contains("good: issued") && first.stdout.contains("bad: failed"), "\(first.stdout)")
        #expect(!first.stderr.contains("<6>") && !first.stderr.contains("<3>"), "a pipe gets no priority prefixes: \(first.stderr)")

        // The textfile: 0644, accepted by promtool's linter, and saying what happened.
        let attributes = try FileManager.default.attributesOfItem(atPath: textfile)
        #expect((attributes[.posixPermissions] as? Int) == 0o644)
        let check = try runProcess(Self.promtool, ["check", "metrics"], stdin: try String(contentsOfFile: textfile, encoding: .utf8))
        #expect(check.status == 0 && check.stdout.isEmpty && check.stderr.isEmpty, "promtool: \(check.stdout)\(check.stderr)")
        let text = try String(contentsOfFile: textfile, encoding: .utf8)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/node-exporter")
        #expect(leftovers == ["dns01.prom"], "no temporary file stays: \(leftovers)")
        let notAfter = try #require(Self.sample(text, "dns01_certificate_expiry_timestamp_seconds{name=\"good\"}").flatMap(Double.init))
        let opensslEnd = try runProcess("/usr/bin/openssl", ["x509", "-noout", "-enddate", "-dateopt", "iso_8601", "-in", "\(lab.directory)/state/live/good/cert.pem"]).stdout
        let expected = try #require(ISO8601DateFormatter().date(from: opensslEnd.replacingOccurrences(of: "notAfter=", with: "")
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: " ", with: "T")))
        #expect(notAfter == expected.timeIntervalSince1970, "\(opensslEnd)")
        #expect(Self.sample(text, "dns01_certificate_expiry_timestamp_seconds{name=\"bad\"}") == nil)
        #expect(Self.sample(text, "dns01_certificate_consecutive_failures{name=\"bad\"}") == "1")
        #expect(Self.sample(text, "dns01_certificate_consecutive_failures{name=\"good\"}") == "0")
        #expect(Self.sample(text, "dns01_certificate_last_success_timestamp_seconds{name=\"good\"}") != nil)
        #expect(Self.sample(text, "dns01_certificate_last_failure_timestamp_seconds{name=\"bad\"}") != nil)
        #expect(Self.sample(text, "dns01_certificate_last_success_timestamp_seconds{name=\"bad\"}") == nil)
        #expect(Self.sample(text, "dns01_run_certificates{status=\"issued\"}") == "1")
        #expect(Self.sample(text, "dns01_run_certificates{status=\"failed\"}") == "1")
        // A wildcard and its apex: two values at one name.
        #expect(Self.sample(text, "dns01_run_records_presented") == "2", "\(text)")
        #expect((Self.sample(text, "dns01_run_duration_seconds").flatMap(Double.init) ?? 0) > 0)

        // The notifications: one failure, one success, with what they are about.
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: notices)) == ["failure-bad.env", "success-good.env"])
        let failure = try Self.environment(at: "\(notices)/failure-bad.env")
        #expect(failure["DNS01_EVENT"] == "failure" && failure["DNS01_CERT_NAME"] == "bad" && failure["DNS01_DOMAINS"] == "www.other.test")
        #expect(failure["DNS01_CONSECUTIVE_FAILURES"] == "1")
        #expect(failure["DNS01_ERROR"]?.contains("www.other.test") == true, "\(failure)")
        #expect(failure["DNS01_NOT_AFTER"] == nil)
        let success = try Self.environment(at: "\(notices)/success-good.env")
        #expect(success["DNS01_EVENT"] == "success" && success["DNS01_DOMAINS"] == "*.good.example.test good.example.test")
        #expect(success["DNS01_CONSECUTIVE_FAILURES"] == "0" && success["DNS01_ERROR"] == "")
        #expect(success["DNS01_NOT_AFTER"] == expected.formatted(.iso8601), "\(success)")
        #expect(success["DNS01_LIVE"] == "\(lab.directory)/state/live/good")

        // Nothing due; "good" expires within a year: an expiry warning, whose command fails. A
        // failing notify command is a warning, not a failed run.
        let expiring = try lab.writeConfig("expiring.toml") {
            $0 + "\n[metrics]\ntextfile = \"\(textfile)\"\n[notify]\ncommand = \"\(dump); echo no mail server >&2; exit 3\"\non = [\"expiring\"]\nexpiring_within = \"365d\"\n" + good
        }
        try FileManager.default.removeItem(atPath: "\(notices)/success-good.env")
        let second = try await CLIRunner.run(["run", "-c", expiring])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("warning: notify command for expiring of good exited with status 3: no mail server"), "\(second.stderr)")
        let warned = try Self.environment(at: "\(notices)/expiring-good.env")
        #expect(warned["DNS01_EVENT"] == "expiring" && warned["DNS01_NOT_AFTER"] == expected.formatted(.iso8601))
        #expect(!FileManager.default.fileExists(atPath: "\(notices)/success-good.env"))
        let quiet = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(Self.sample(quiet, "dns01_run_certificates{status=\"skipped\"}") == "1")
        #expect(Self.sample(quiet, "dns01_run_records_presented") == "0")
        let recheck = try runProcess(Self.promtool, ["check", "metrics"], stdin: quiet)
        #expect(recheck.status == 0, "promtool: \(recheck.stdout)\(recheck.stderr)")

        // stderr is the journal (JOURNAL_STREAM names it, as systemd sets it): every line carries
        // its priority. The textfile's directory is gone: a warning; "bad" backs off: the error.
        let journaled = try lab.writeConfig("journal.toml") {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]")
                + "\n[metrics]\ntextfile = \"\(lab.directory)/gone/dns01.prom\"\n" + good + bad
        }
        let log = "\(lab.directory)/journal.log"
        let script = "exec 2>\"$1\"; JOURNAL_STREAM=$(stat -L -c %d:%i \"$1\") exec \"$2\" run -c \"$3\""
        let third = try runProcess("/bin/sh", ["-c", script, "sh", log, CLIRunner.executable, journaled])
        #expect(third.status == 1)
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("<3>") || $0.hasPrefix("<4>") || $0.hasPrefix("<6>") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<4>[") && $0.hasSuffix("] warning: Cannot write the metrics textfile \(lab.directory)/gone/dns01.prom: its directory \(lab.directory)/gone does not exist.") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<3>dns01: 1 certificate(s) due but backing off") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<6>[") }, "\(lines)")
    }
}
