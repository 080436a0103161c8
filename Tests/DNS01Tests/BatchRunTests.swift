import Foundation
import Testing
import TestLab

/// Issue 5: `dns01 run` over many certificates, failures kept apart, and cleanup that survives
/// signals and crashes.
@Suite("batch runs and cleanup", .serialized)
struct BatchRunTests {
    static func certificates(_ count: Int) -> String {
        (1...count).map { index in
            "\n[[certificate]]\nname = \"s\(index)\"\ndomains = [\"*.s\(index).example.test\", \"s\(index).example.test\"]\n"
        }.joined()
    }

    @Test func twentyCertificatesThenNothingDue() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 5))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0 + Self.certificates(20) }
        let first = try await CLIRunner.run(["run", "-c", config, "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        #expect(summary["issued"] as? Int == 20)
        for index in 1...20 {
            #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/s\(index)/cert.pem")
                    == ["*.s\(index).example.test", "s\(index).example.test"])
        }
        // One wait for all twenty: the propagation wait is logged once.
        #expect(first.stderr.components(separatedBy: "all values visible").count == 2, "\(first.stderr)")
        #expect(try lab.leftoverChallengeValues((1...20).map { "s\($0).example.test" }).isEmpty)

        let second = try await CLIRunner.run(["run", "-c", config, "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        let again = try #require(try JSONSerialization.jsonObject(with: Data(second.stdout.utf8)) as? [String: Any])
        #expect(again["issued"] as? Int == 0 && again["skipped"] as? Int == 20)
        #expect((again["seconds"] as? Double ?? 99) < 2)
    }

    /// A run holds a lock file per certificate: more certificates than the soft open-files limit
    /// (systemd's 1024 for a service; 40 here) must not fail on "Too many open files". dns01
    /// raises its soft limit to the hard one at start.
    @Test func moreCertificatesThanTheSoftOpenFilesLimit() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let config = try lab.writeConfig {
            $0 + (1...60).map { "\n[[certificate]]\nname = \"n\($0)\"\ndomains = [\"n\($0).example.test\"]\n" }.joined()
        }
        let result = try await runProcessOffPool("/bin/sh", ["-c", #"ulimit -Sn 40 && exec "$0" "$@""#, CLIRunner.executable, "run", "-c", config, "--json"],
                                                 environment: ProcessInfo.processInfo.environment.filter { $0.key != "DNS01_CONFIG" })
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(summary["issued"] as? Int == 60, "\(result.stdout)")
    }

    @Test func aCertificateWithoutProviderFailsAlone() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], secondaryLag: 1))
        defer { lab.stop() }
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "zones = [\"example.test\", \"other.test\"]", with: "zones = [\"example.test\"]")
                + Self.certificates(3) + "\n[[certificate]]\nname = \"orphan\"\ndomains = [\"www.other.test\"]\n"
        }
        let result = try await CLIRunner.run(["run", "-c", config])
        #expect(result.status == 1)
        #expect(result.stdout.contains("orphan: failed"), "\(result.stdout)")
        #expect(result.stdout.contains("3 issued"), "\(result.stdout)")
        #expect(result.stderr.contains("orphan"), "\(result.stderr)")
        for index in 1...3 {
            #expect(FileManager.default.fileExists(atPath: "\(lab.directory)/state/live/s\(index)/fullchain.pem"))
        }
    }

    /// Starts dns01 in the background; returns once its records are on the primary.
    static func startAndWaitForRecords(_ arguments: [String], lab: TestLab, name: String) async throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLIRunner.executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "/dev/null"))
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while try lab.txtValues(name, at: lab.primary).count < 2 {
            guard Date() < deadline, process.isRunning else { throw LabError("records never appeared at \(name)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process
    }

    static func waitForExit(_ process: Process) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning {
            guard Date() < deadline else { throw LabError("dns01 did not exit") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    @Test func sigtermDuringTheWaitRemovesEveryRecord() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 60))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let name = "_acme-challenge.example.test"
        let process = try await Self.startAndWaitForRecords(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"],
                                                            lab: lab, name: name)
        kill(process.processIdentifier, SIGTERM)
        let status = try await Self.waitForExit(process)
        #expect(status != 0)
        #expect(try lab.txtValues(name, at: lab.primary).isEmpty)
        let journal = (try? FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal")) ?? []
        #expect(journal.isEmpty, "\(journal)")
    }

    @Test func aKilledRunsRecordsAreCleanedByTheNextRun() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 60))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0.replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"1s\"") }
        let name = "_acme-challenge.example.test"
        let process = try await Self.startAndWaitForRecords(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"],
                                                            lab: lab, name: name)
        kill(process.processIdentifier, SIGKILL)
        _ = try await Self.waitForExit(process)
        #expect(try lab.txtValues(name, at: lab.primary).count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal").count == 1)

        // Any next run cleans first; this one then times out on its own probe (lag 60 s, 1 s limit).
        let next = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(next.stderr.contains("2 record"), "\(next.stderr)")
        #expect(try lab.txtValues(name, at: lab.primary).isEmpty)
        #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal").isEmpty)
    }
}
