@testable import DNS01
import Files
import Foundation
import Providers
import TestLab
import Testing

/// The journal and the state directory end to end: the `dns01` binary against the lab's BIND
/// (and Pebble where a certificate is ordered), killed, signalled, refused, and run as certbot's
/// hooks in separate processes.
@Suite("journal and state directory", .serialized)
struct JournalIntegrationTests {
    static let value = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

    /// A config for a lab without Pebble (no CA bundle to read).
    static func configWithoutCA(_ lab: TestLab, edit: (String) -> String = { $0 }) throws -> String {
        try lab.writeConfig { edit($0.replacingOccurrences(of: "ca_bundle = \"\(lab.pebbleCAFile)\"\n", with: "")) }
    }

    static func journalEntries(_ lab: TestLab) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal")) ?? []).filter { $0.hasSuffix(".json") }
    }

    /// Starts dns01 in the background with stderr to a file; returns once `name` has `count`
    /// values at the primary.
    static func start(_ arguments: [String], lab: TestLab, name: String, count: Int) async throws -> (Process, String) {
        let log = "\(lab.directory)/dns01-\(UInt32.random(in: 0...UInt32.max)).log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLIRunner.executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while try lab.txtValues(name, at: lab.primary).count < count {
            guard Date() < deadline, process.isRunning else { throw LabError("records never appeared at \(name)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return (process, log)
    }

    /// A journal entry as a killed run would leave it, by a process that is gone.
    static func plantOrphan(_ records: [ChallengeRecord], lab: TestLab) throws {
        let gone = ProcessIdentity(bootID: "00000000-0000-0000-0000-000000000000", pid: Int32.max - 1, startTime: 1)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let entry = Journal.Entry(pid: gone.pid, owner: gone, created: Date(), records: records)
        try FileSystem.createDirectory("\(lab.directory)/state/journal")
        try FileSystem.writeAtomically(Array(try encoder.encode(entry)), to: "\(lab.directory)/state/journal/\(gone.pid)-1.json", mode: 0o600)
    }

    static func record(_ name: String, value: String = value) -> ChallengeRecord {
        let domain = String(name.dropFirst("_acme-challenge.".count))
        return ChallengeRecord(target: ChallengeTarget(domain: domain, challengeName: name, recordName: name, zone: "example.test", provider: "lab"),
                               value: value)
    }

    /// Adds a value at the primary the way another tool would (nsupdate with the lab key).
    static func addAtPrimary(_ name: String, _ value: String, lab: TestLab) throws {
        let host = lab.primary.split(separator: ":")
        let script = "server \(host[0]) \(host[1])\nzone example.test\nupdate add \(name) 60 TXT \"\(value)\"\nsend\n"
        let result = try runProcess("/usr/bin/nsupdate", ["-k", lab.tsigKeyFile], stdin: script)
        try #require(result.status == 0, "\(result.stderr)")
    }

    // MARK: Item 2: certbot's hooks are separate processes

    @Test func certbotHooksInSeparateProcessesLeaveNothingJournaled() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        let environment = ["CERTBOT_DOMAIN": "www.example.test", "CERTBOT_VALIDATION": Self.value,
                           "CERTBOT_REMAINING_CHALLENGES": "0", "CERTBOT_ALL_DOMAINS": "www.example.test"]
        for round in 1...2 {
            let auth = try await CLIRunner.run(["certbot", "auth", "-v", "-c", config], environment: environment)
            #expect(auth.status == 0, "\(auth.stderr)")
            #expect(!auth.stderr.contains("left by process"), "round \(round): \(auth.stderr)")
            #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary) == [Self.value])
            let cleanup = try await CLIRunner.run(["certbot", "cleanup", "-v", "-c", config], environment: environment)
            #expect(cleanup.status == 0, "\(cleanup.stderr)")
            #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary).isEmpty)
            #expect(Self.journalEntries(lab).isEmpty, "round \(round)")
        }
    }

    // MARK: Item 3: refused records, failing cleanups

    @Test func aRecordTheServerRefusedIsNotJournaled() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        // The secondary takes no updates: it answers REFUSED, nothing is written.
        let config = try Self.configWithoutCA(lab) { $0.replacingOccurrences(of: "server = \"\(lab.primary)\"", with: "server = \"\(lab.secondary)\"") }
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 1)
        #expect(result.stdout.contains("REFUSED"), "\(result.stdout)")
        #expect(!result.stderr.contains("cleanup failed"), "\(result.stderr)")
        #expect(Self.journalEntries(lab).isEmpty)
    }

    @Test func aCleanupThatKeepsFailingIsReportedOnceAndBacksOff() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab) { $0.replacingOccurrences(of: "server = \"\(lab.primary)\"", with: "server = \"\(lab.secondary)\"") }
        try Self.plantOrphan([Self.record("_acme-challenge.old.example.test")], lab: lab)
        let first = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(first.stderr.contains("warning: cannot remove 1 record(s)"), "\(first.stderr)")
        #expect(first.stderr.contains("_acme-challenge.old.example.test in zone example.test"), "\(first.stderr)")
        #expect(first.stderr.contains("REFUSED"), "\(first.stderr)")
        let second = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(!second.stderr.contains("cannot remove"), "\(second.stderr)")
        #expect(!second.stderr.contains("left by process"), "\(second.stderr)")
        #expect(second.stderr.contains("wait for their next cleanup attempt"), "\(second.stderr)")
        let entries = Self.journalEntries(lab)
        #expect(entries.count == 1)
        let text = try String(contentsOfFile: "\(lab.directory)/state/journal/\(entries.first ?? "")", encoding: .utf8)
        #expect(text.contains("\"failures\":1") && text.contains("retryAfter"), "\(text)")
    }

    // MARK: Item 4: the writer is known by more than its pid

    /// An entry written before a reboot names a pid that a live process (here: this test) has
    /// now; its boot id tells it apart, and the entry is cleaned.
    @Test func anEntryFromAnEarlierBootIsCleanedAlthoughItsPidIsAlive() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        let name = "_acme-challenge.old.example.test"
        try Self.addAtPrimary(name, Self.value, lab: lab)
        let current = try #require(ProcessIdentity.current())
        let earlierBoot = ProcessIdentity(bootID: "00000000-0000-0000-0000-000000000000", pid: current.pid, startTime: current.startTime)
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let entry = Journal.Entry(pid: current.pid, owner: earlierBoot, created: Date(), records: [Self.record(name)])
        try FileSystem.createDirectory("\(lab.directory)/state/journal")
        try FileSystem.writeAtomically(Array(try encoder.encode(entry)), to: "\(lab.directory)/state/journal/\(current.pid)-1.json", mode: 0o600)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try lab.txtValues(name, at: lab.primary).isEmpty)
        #expect(Self.journalEntries(lab).isEmpty)
    }

    // MARK: Item 5: every command cleans orphans first

    @Test func aKilledRunsRecordIsRemovedByARunWithNothingDue() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 60, startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab) { $0 + "\n[[certificate]]\nname = \"kept\"\ndomains = [\"kept.example.test\"]\n" }
        // A live certificate that is not due, made with openssl.
        let live = "\(lab.directory)/state/live/kept"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        let made = try runProcess("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                        "-subj", "/CN=kept.example.test", "-addext", "subjectAltName=DNS:kept.example.test",
                                                        "-days", "365", "-keyout", "\(live)/privkey.pem", "-out", "\(live)/cert.pem"])
        try #require(made.status == 0, "\(made.stderr)")

        let name = "_acme-challenge.www.example.test"
        let (process, _) = try await Self.start(["check", "-c", config, "-d", "www.example.test"], lab: lab, name: name, count: 1)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(Self.journalEntries(lab).count == 1)

        let run = try await CLIRunner.run(["run", "-c", config])
        #expect(run.stdout.contains("0 issued, 1 not due"), "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("cleaning up 1 record(s)"), "\(run.stderr)")
        #expect(try lab.txtValues(name, at: lab.primary).isEmpty)
        #expect(Self.journalEntries(lab).isEmpty)
    }

    // MARK: Item 6: signals

    /// SIGTERM with the primary stopped: the removal fails, and the last line says what stays.
    @Test func sigtermWhileThePrimaryIsDownSaysWhatWasNotRemoved() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 60))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0.replacingOccurrences(of: "tsig_key_file =", with: "timeout = \"1s\"\ntsig_key_file =") }
        let name = "_acme-challenge.example.test"
        let (process, log) = try await Self.start(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"],
                                                  lab: lab, name: name, count: 2)
        let primary = try #require(lab.pids["named-primary"])
        kill(primary, SIGSTOP)
        defer { kill(primary, SIGCONT) }
        // SIGSTOP takes effect when the kernel next schedules the process: on a loaded machine that
        // is not at once. Only a primary the kernel shows stopped ('T') makes the removal fail.
        let stoppedBy = ContinuousClock.now + .seconds(10)
        while Self.processState(primary) != "T" && ContinuousClock.now < stoppedBy { try await Task.sleep(for: .milliseconds(10)) }
        #expect(Self.processState(primary) == "T")
        kill(process.processIdentifier, SIGTERM)
        let status = try await BatchRunTests.waitForExit(process)
        kill(primary, SIGCONT)
        let stderr = try String(contentsOfFile: log, encoding: .utf8)
        #expect(status == 1)
        #expect(!stderr.contains("every record presented was removed"), "\(stderr)")
        #expect(stderr.contains("2 record(s) could not be removed and stay in the journal for the next run: _acme-challenge.example.test in zone example.test."), "\(stderr)")
        #expect(Self.journalEntries(lab).count == 1)
    }

    /// The state letter of /proc/PID/stat ("S", "R", "T" for stopped), "" when unreadable.
    static func processState(_ pid: Int32) -> String {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return "" }
        return stat[stat.index(after: close)...].split(separator: " ").first.map(String.init) ?? ""
    }

    /// A dropped ssh session (SIGHUP) under `dns01 issue` cleans up like SIGTERM.
    @Test func sighupRemovesEveryRecord() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 60))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let name = "_acme-challenge.example.test"
        let (process, log) = try await Self.start(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"],
                                                  lab: lab, name: name, count: 2)
        kill(process.processIdentifier, SIGHUP)
        let status = try await BatchRunTests.waitForExit(process)
        #expect(status == 1)
        #expect(process.terminationReason == .exit)
        #expect(try String(contentsOfFile: log, encoding: .utf8).contains("every record presented was removed"))
        #expect(try lab.txtValues(name, at: lab.primary).isEmpty)
        #expect(Self.journalEntries(lab).isEmpty)
    }

    // MARK: Item 7: the state directory

    @Test func aStateDirOthersMayWriteIsRefused() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        let state = "\(lab.directory)/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        chmod(state, 0o777)
        for arguments in [["check", "-c", config, "-d", "www.example.test"], ["issue", "-c", config, "-d", "www.example.test"]] {
            let result = try await CLIRunner.run(arguments)
            #expect(result.status == 2, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains("state_dir \(state) is writable by group and others (mode 0777)"), "\(result.stderr)")
        }
        #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary).isEmpty)
    }

    // MARK: Item 7: what the journal may name

    /// A planted entry naming an SPF record (a value the lab key may delete) removes nothing.
    @Test func aPlantedEntryCannotDeleteOtherTXTValues() async throws {
        let spf = "v=spf1 ip4:192.0.2.0/24 -all"
        let lab = try await TestLab.start(.init(extraRecords: ["example.test": ["@ IN TXT \"\(spf)\""]], startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        let target = ChallengeTarget(domain: "example.test", challengeName: "_acme-challenge.example.test", recordName: "example.test",
                                     zone: "example.test", provider: "lab")
        try Self.plantOrphan([ChallengeRecord(target: target, value: spf)], lab: lab)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("was not written by dns01"), "\(result.stderr)")
        #expect(try lab.txtValues("example.test", at: lab.primary) == [spf])
    }

    /// A valid orphan removes exactly its own value; another tool's value at the name stays.
    @Test func anOrphanRemovesOnlyItsOwnValue() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        let name = "_acme-challenge.old.example.test"
        let other = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
        try Self.addAtPrimary(name, Self.value, lab: lab)
        try Self.addAtPrimary(name, other, lab: lab)
        try Self.plantOrphan([Self.record(name)], lab: lab)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try lab.txtValues(name, at: lab.primary) == [other])
        #expect(Self.journalEntries(lab).isEmpty)
    }

    // MARK: Item 1: `dns01 issue` takes the certificate lock

    @Test func issueRefusesACertificateAnotherProcessHolds() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let config = try Self.configWithoutCA(lab)
        try FileSystem.createDirectory("\(lab.directory)/state/locks")
        let lockPath = "\(lab.directory)/state/locks/www.example.test.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        try #require(fd >= 0 && flock(fd, LOCK_EX) == 0)
        defer { close(fd) }
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "www.example.test"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("Another dns01 process is working on certificate www.example.test"), "\(result.stderr)")
    }
}
