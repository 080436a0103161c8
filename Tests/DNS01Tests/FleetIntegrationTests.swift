import Foundation
import Testing
import TestLab

/// Issue 19: a fleet sharing one PostgreSQL (`[storage] type = "postgres"`), end to end. Each
/// machine is a `dns01` process with a state_dir of its own, against the lab's BIND and Pebble
/// and a real PostgreSQL (no mock): issuers at once, one killed while it holds a lock, the
/// database restarted under a run, syncing machines, and what the tables hold.
@Suite("fleet storage in PostgreSQL", .serialized)
struct FleetIntegrationTests {
    // MARK: Three issuers at once

    /// Three `dns01 run` on one config (three state dirs, one database), 20 certificates: each
    /// is issued by exactly one of them, once; the others skip it (locked, or renewed meanwhile).
    @Test func threeIssuersAtOnceIssueEachCertificateOnce() async throws {
        let fleet = try await FleetLab.start(lag: 2)
        defer { fleet.stop() }
        let names = (1...20).map { "c\($0)" }
        let machines = ["m1", "m2", "m3"]
        // Each machine lists them in another order (and takes their locks in it): runs that
        // reach their locks at the same moment split the certificates; usually the first run
        // there takes all 20 and the others skip them (locked, or renewed meanwhile).
        let orders = [names, names.reversed(), Array(names[10...] + names[..<10])]
        let configs = try zip(machines, orders).map { machine, order in
            try fleet.writeConfig(machine, order.map { FleetLab.certificate($0) }.joined())
        }
        let runs = try configs.map { try BackgroundDNS01(["run", "-c", $0, "--json"], logs: fleet.lab.directory) }
        var results: [CLIResult] = []
        for run in runs { results.append(try await run.finish()) }
        for (machine, result) in zip(machines, results) { #expect(result.status == 0, "\(machine): \(result.stderr)") }
        let summaries = try results.map(RunSummary.init)

        #expect(summaries.map(\.issued).reduce(0, +) == 20, "\(summaries.map(\.issued))")
        #expect(summaries.allSatisfy { $0.failed == 0 })
        for name in names {
            let statuses = summaries.map { $0.status(name) ?? "missing" }
            #expect(statuses.filter { $0 == "issued" }.count == 1, "\(name): \(statuses)")
            #expect(statuses.allSatisfy { $0 == "issued" || $0 == "skipped" }, "\(name): \(statuses)")
        }
        // A certificate skipped because another run held it names the holder.
        for (summary, result) in zip(summaries, results) {
            for item in summary.certificates where item.reason == "locked-elsewhere" {
                #expect(item.error?.contains("is being worked on by dns01 on ") == true, "\(item)")
                #expect(result.stderr.contains("\(item.name) is being worked on by dns01 on "))
            }
        }

        // Exactly one version of each, live, written by the run that says it issued it.
        #expect(try fleet.rows("SELECT name, count(*) FROM dns01_versions GROUP BY name ORDER BY name")
                == names.sorted().map { "\($0)|1" })
        #expect(try fleet.count("SELECT count(*) FROM dns01_certificates WHERE live_version = 1") == 20)
        #expect(try fleet.incompleteLiveVersions().isEmpty)
        let writers = Dictionary(try fleet.rows("SELECT name, created_by FROM dns01_versions").map { row in
            let fields = row.split(separator: "|", maxSplits: 1).map(String.init)
            return (fields[0], fields.count > 1 ? fields[1] : "")
        }, uniquingKeysWith: { first, _ in first })
        for (index, summary) in summaries.enumerated() {
            for item in summary.certificates where item.status == "issued" {
                #expect(writers[item.name] == runs[index].applicationName, "\(item.name)")
                // The issuer's own live/ has what it stored.
                #expect(FileManager.default.fileExists(atPath: "\(fleet.stateDir(machines[index]))/live/\(item.name)/privkey.pem"))
            }
        }
        // Every record cleaned up; no journal row left.
        #expect(try fleet.count("SELECT count(*) FROM dns01_journal") == 0)
        #expect(try fleet.lab.leftoverChallengeValues(names.map { "\($0).example.test" }).isEmpty)

        // The raw tables hold no private key: not as PEM, not as its base64 lines, not as its bytes.
        try Self.expectNoPrivateKey(in: try fleet.dataDump(), stateDirs: machines.map(fleet.stateDir))
    }

    /// Item 5 of the issue's tests: `dump` (the dns01 tables' rows) holds no "PRIVATE KEY", no
    /// line of the base64 body of any private key under `stateDirs` (certificate keys and the
    /// account key), and not the key's DER bytes in bytea's hex form.
    static func expectNoPrivateKey(in dump: String, stateDirs: [String]) throws {
        #expect(dump.contains("COPY public.dns01_versions") && dump.contains("BEGIN CERTIFICATE"), "the dump has no versions")
        #expect(dump.contains("COPY public.dns01_accounts"))
        #expect(!dump.contains("PRIVATE KEY"))
        var keys: [String] = []
        for directory in stateDirs {
            let enumerator = FileManager.default.enumerator(atPath: directory)
            while let path = enumerator?.nextObject() as? String {
                if path.hasSuffix("privkey.pem") || path.hasSuffix("account.key") { keys.append("\(directory)/\(path)") }
            }
        }
        #expect(keys.count >= 2, "\(keys)")
        let hexDump = dump.lowercased()
        for path in keys {
            let pem = try String(contentsOfFile: path, encoding: .utf8)
            let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }
            for line in body where line.count >= 16 {
                #expect(!dump.contains(line), "a line of \(path) is in the tables")
            }
            let der = try #require(Data(base64Encoded: body.joined()))
            let hex = der.map { String(format: "%02x", $0) }.joined()
            #expect(!hexDump.contains(hex), "the bytes of \(path) are in the tables")
        }
    }

    // MARK: A holder killed mid-wait

    /// SIGKILL to the process holding a certificate's lock while it waits for propagation:
    /// once its connection is gone, a run on another machine cleans its records (journal row
    /// and TXT values), takes the certificate over and issues it; the certificates stored
    /// before are untouched.
    @Test func aKilledHoldersCertificateIsTakenOverAndItsRecordsCleaned() async throws {
        // The victim must still be waiting when it is killed: with a 2 s lag, a test on a starved
        // cooperative pool (2 cores, the full suite) saw "presented" only after the victim had
        // validated, stored v and removed its records. 15 s leaves that room.
        let fleet = try await FleetLab.start(lag: 15)
        defer { fleet.stop() }
        let kept = FleetLab.certificate("k1") + FleetLab.certificate("k2", wildcard: true)
        let first = try await CLIRunner.run(["run", "-c", try fleet.writeConfig("m1", kept), "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try RunSummary(first).issued == 2)
        let versionsBefore = try fleet.rows("SELECT name, version, md5(chain), md5(key_sealed) FROM dns01_versions ORDER BY name")
        #expect(versionsBefore.count == 2)

        let all = kept + FleetLab.certificate("v", wildcard: true)
        let victim = try BackgroundDNS01(["run", "-c", try fleet.writeConfig("m1", all, file: "m1-v")], logs: fleet.lab.directory)
        // Killed the moment its records are at the primary (the secondary shows them 15 s later).
        try await victim.waitForStderr("presented")
        #expect(victim.process.isRunning, "the run ended before it was killed: \(victim.stderr)")
        kill(victim.pid, SIGKILL)
        _ = try await victim.finish()
        #expect(victim.process.terminationReason == .uncaughtSignal)
        let name = "_acme-challenge.v.example.test"
        let deadValues = try fleet.lab.txtValues(name, at: fleet.lab.primary)
        #expect(deadValues.count == 2, "\(deadValues)")
        try await fleet.waitForSessionToEnd(victim.applicationName)
        #expect(try fleet.rows("SELECT owner FROM dns01_journal") == [victim.applicationName])
        #expect(try fleet.count("SELECT count(*) FROM dns01_versions WHERE name = 'v'") == 0)

        let second = try await CLIRunner.run(["run", "-c", try fleet.writeConfig("m2", all), "--json"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("cleaning up 2 record(s) left by \(victim.applicationName), which is no longer running"), "\(second.stderr)")
        let summary = try RunSummary(second)
        #expect(summary.status("v") == "issued" && summary.issued == 1, "\(summary.certificates)")
        let left = try fleet.lab.txtValues(name, at: fleet.lab.primary)
        #expect(left.isEmpty && !deadValues.isEmpty, "\(left)")
        #expect(try fleet.count("SELECT count(*) FROM dns01_journal") == 0)
        // Nothing lost: the others' versions as they were, v's one version live.
        #expect(try fleet.rows("SELECT name, version, md5(chain), md5(key_sealed) FROM dns01_versions WHERE name <> 'v' ORDER BY name")
                == versionsBefore)
        #expect(try fleet.rows("SELECT name, live_version FROM dns01_certificates ORDER BY name") == ["k1|1", "k2|1", "v|1"])
        #expect(try fleet.incompleteLiveVersions().isEmpty)
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(fleet.stateDir("m2"))/live/v/cert.pem") == ["*.v.example.test", "v.example.test"])
    }

    // MARK: PostgreSQL restarted under a run

    /// The database restarts while a run waits for propagation: the run's session is gone, so
    /// the certificate cannot be stored. The run says so, naming PostgreSQL, and exits 1 (no
    /// trap, no hang); no version is live unless complete, and live/ has nothing half-written.
    /// The next run cleans the journal row the lost session left and issues the certificate.
    @Test func aRestartOfPostgreSQLMidRunFailsCleanlyAndTheNextRunSucceeds() async throws {
        let fleet = try await FleetLab.start(lag: 15)  // room to act while the run waits (see the killed holder's test)
        defer { fleet.stop() }
        let config = try fleet.writeConfig("m1", FleetLab.certificate("r", wildcard: true))
        let run = try BackgroundDNS01(["run", "-c", config], logs: fleet.lab.directory)
        try await run.waitForStderr("waiting for")
        try await fleet.postgres.restart()
        let result = try await run.finish()
        #expect(run.process.terminationReason == .exit, "\(result.stderr)")
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        // The certificate's line (stdout) says in one sentence that PostgreSQL went away; so does
        // the run's error (stderr's last line), naming the certificate not stored.
        let server = "PostgreSQL at 127.0.0.1:\(fleet.postgres.port)"
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("r: failed (") }.map(String.init) ?? ""
        #expect(line.contains("Lost the connection to \(server) ("), "\(result.stdout)")
        let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("dns01: Lost the connection to \(server) (") && last.contains("so r could not be stored")
                && last.hasSuffix("the next run retries it without back-off."), "\(result.stderr)")
        #expect(result.stderr.contains(server), "\(result.stderr)")
        for trap in ["Fatal error", "Stack dump", "Swift runtime failure", "Crash"] {
            #expect(!result.stderr.contains(trap), "\(result.stderr)")
        }
        #expect(!result.stderr.contains(fleet.postgres.password) && !result.stdout.contains(fleet.postgres.password))
        #expect(try fleet.incompleteLiveVersions().isEmpty)
        #expect(try fleet.count("SELECT count(*) FROM dns01_versions") == 0)
        #expect(!FileManager.default.fileExists(atPath: "\(fleet.stateDir("m1"))/live/r"))
        #expect(try fleet.lab.leftoverChallengeValues(["r.example.test"]).isEmpty)
        // The journal row could not be deleted with the session gone; the next run removes it.
        #expect(try fleet.rows("SELECT owner FROM dns01_journal") == [run.applicationName])

        // A lost database is not the certificate's failure: no back-off, a plain run retries.
        let next = try await CLIRunner.run(["run", "-c", config, "--json"])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stderr.contains("cleaning up 2 record(s) left by \(run.applicationName), which is no longer running"), "\(next.stderr)")
        #expect(try RunSummary(next).status("r") == "issued")
        #expect(try fleet.rows("SELECT name, live_version FROM dns01_certificates") == ["r|1"])
        #expect(try fleet.incompleteLiveVersions().isEmpty)
        #expect(try fleet.count("SELECT count(*) FROM dns01_journal") == 0)
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(fleet.stateDir("m1"))/live/r/cert.pem") == ["*.r.example.test", "r.example.test"])
    }

    // MARK: Syncing machines

    /// Two machines that only sync get the issuer's certificates byte for byte (keys 0600) and
    /// run each deploy hook once; a second sync is one statement, writes nothing and runs no
    /// hook; a renewal on the issuer is picked up by the next sync, whose hook runs for it alone.
    @Test func syncInstallsTheLiveVersionsAndThenOnlyWhatChanged() async throws {
        let fleet = try await FleetLab.start(lag: 1)
        defer { fleet.stop() }
        let issuer = try fleet.writeConfig("issuer", FleetLab.certificate("y1") + FleetLab.certificate("y2", wildcard: true))
        let issued = try await CLIRunner.run(["run", "-c", issuer, "--json"])
        #expect(issued.status == 0, "\(issued.stderr)")
        #expect(try RunSummary(issued).issued == 2)

        func hookLog(_ machine: String) -> String { "\(fleet.lab.directory)/\(machine)-hooks.log" }
        func hookRuns(_ machine: String) -> [String] {
            ((try? String(contentsOfFile: hookLog(machine), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).sorted()
        }
        func certificates(_ machine: String) -> String {
            ["y1", "y2"].map { FleetLab.certificate($0, wildcard: $0 == "y2", deployHook: "echo $DNS01_CERT_NAME >> \(hookLog(machine))") }.joined()
        }
        func expectSameFiles(_ machine: String, _ names: [String]) throws {
            for name in names {
                for file in ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"] {
                    let theirs = try Data(contentsOf: URL(fileURLWithPath: "\(fleet.stateDir("issuer"))/live/\(name)/\(file)"))
                    let ours = try Data(contentsOf: URL(fileURLWithPath: "\(fleet.stateDir(machine))/live/\(name)/\(file)"))
                    #expect(ours == theirs, "\(machine) live/\(name)/\(file)")
                }
                let mode = try FileManager.default.attributesOfItem(atPath: "\(fleet.stateDir(machine))/live/\(name)/privkey.pem")[.posixPermissions] as? Int
                #expect(mode == 0o600, "\(machine) live/\(name)/privkey.pem")
            }
        }

        var configs: [String: String] = [:]
        for machine in ["web1", "web2"] {
            configs[machine] = try fleet.writeConfig(machine, certificates(machine))
            let sync = try await CLIRunner.run(["sync", "-c", configs[machine] ?? "", "--json"])
            #expect(sync.status == 0, "\(sync.stderr)")
            let summary = try SyncSummary(sync)
            #expect(summary.updated.map(\.name).sorted() == ["y1", "y2"] && summary.updated.allSatisfy { $0.version == 1 })
            try expectSameFiles(machine, ["y1", "y2"])
            #expect(hookRuns(machine) == ["y1", "y2"])
        }

        // Nothing changed: one statement (as the server logged it, and as dns01 counted it), no
        // file touched, no hook.
        let web1 = try #require(configs["web1"])
        let before = try Self.snapshot(fleet.stateDir("web1"))
        let quiet = try BackgroundDNS01(["sync", "-c", web1, "--json"], logs: fleet.lab.directory)
        let quietResult = try await quiet.finish()
        #expect(quietResult.status == 0, "\(quietResult.stderr)")
        let quietSummary = try SyncSummary(quietResult)
        #expect(quietSummary.updated.isEmpty && quietSummary.missing.isEmpty && quietSummary.queries == 1)
        let statements = fleet.postgres.statements(applicationName: quiet.applicationName)
        #expect(statements.count == 1, "\(statements)")
        #expect(try Self.snapshot(fleet.stateDir("web1")) == before)
        #expect(hookRuns("web1") == ["y1", "y2"])
        let text = try await CLIRunner.run(["sync", "-c", web1])
        #expect(text.stdout.contains("0 updated, 2 unchanged (1 query,"), "\(text.stdout)")

        // A renewal on the issuer (y1 alone, forced) is picked up by the next sync.
        let renew = try await CLIRunner.run(["run", "-c", try fleet.writeConfig("issuer", FleetLab.certificate("y1"), file: "issuer-y1"), "--force", "--json"])
        #expect(renew.status == 0, "\(renew.stderr)")
        #expect(try RunSummary(renew).status("y1") == "issued")
        #expect(try fleet.rows("SELECT name, live_version FROM dns01_certificates ORDER BY name") == ["y1|2", "y2|1"])
        let after = try await CLIRunner.run(["sync", "-c", web1, "--json"])
        #expect(after.status == 0, "\(after.stderr)")
        let afterSummary = try SyncSummary(after)
        #expect(afterSummary.updated.map(\.name) == ["y1"] && afterSummary.updated.first?.version == 2)
        try expectSameFiles("web1", ["y1", "y2"])
        #expect(hookRuns("web1") == ["y1", "y1", "y2"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(fleet.stateDir("web1"))/live/y1") == "../archive/y1/0002")
    }

    /// Every file and link under `directory` with its size, modification time and link target.
    static func snapshot(_ directory: String) throws -> [String] {
        let fm = FileManager.default
        return try (fm.subpathsOfDirectory(atPath: directory)).sorted().map { path in
            let attributes = try fm.attributesOfItem(atPath: "\(directory)/\(path)")
            let date = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
            let target = (try? fm.destinationOfSymbolicLink(atPath: "\(directory)/\(path)")) ?? ""
            return "\(path) \(attributes[.size] ?? 0) \(date) \(target)"
        }
    }

    // MARK: --wait-lock

    /// `dns01 run --wait-lock` started while another machine holds a certificate waits for its
    /// lock, then finds the certificate renewed meanwhile and does not issue it again.
    @Test func waitLockWaitsAndFindsTheCertificateRenewed() async throws {
        let fleet = try await FleetLab.start(lag: 15)  // room to act while the run waits (see the killed holder's test)
        defer { fleet.stop() }
        let certificate = FleetLab.certificate("w", wildcard: true)
        let holder = try BackgroundDNS01(["run", "-c", try fleet.writeConfig("m1", certificate), "--json"], logs: fleet.lab.directory)
        // It says how many are due once it holds their locks; the order and the wait come after.
        try await holder.waitForStderr("1 of 1 certificate(s) due")
        let waiter = try BackgroundDNS01(["run", "-c", try fleet.writeConfig("m2", certificate), "--wait-lock", "--json"],
                                         logs: fleet.lab.directory)
        // The waiter's session waits on the certificate's advisory lock while the holder runs.
        let deadline = Date().addingTimeInterval(30)
        while try fleet.count("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted") == 0 {
            guard Date() < deadline, waiter.process.isRunning else { throw LabError("the --wait-lock run never waited:\n\(waiter.stderr)") }
            try await Task.sleep(for: .milliseconds(25))
        }
        #expect(holder.process.isRunning)
        let held = try await holder.finish()
        let waited = try await waiter.finish()
        #expect(held.status == 0, "\(held.stderr)")
        #expect(try RunSummary(held).status("w") == "issued")
        #expect(waited.status == 0, "\(waited.stderr)")
        let summary = try RunSummary(waited)
        #expect(summary.issued == 0 && summary.status("w") == "skipped", "\(summary.certificates)")
        #expect(waited.stderr.contains("w: renewed by another machine meanwhile; not due"), "\(waited.stderr)")
        #expect(try fleet.rows("SELECT name, count(*) FROM dns01_versions GROUP BY name") == ["w|1"])
        // The waiter's live/ has the holder's certificate.
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(fleet.stateDir("m2"))/live/w/fullchain.pem"))
                == Data(contentsOf: URL(fileURLWithPath: "\(fleet.stateDir("m1"))/live/w/fullchain.pem")))
    }
}
