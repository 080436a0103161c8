@testable import DNS01
import Foundation
import Storage
import TestLab
import Testing

/// "Trust, round two", items 6–8, against the lab's BIND, Pebble and a real PostgreSQL: what
/// `dns01 sync` and `dns01 run` do with rows that were changed in the database (a chain swapped
/// between two certificates with psql, a flipped byte in a sealed key, a version whose chain is
/// not its key's), and a sync racing a run on one machine.
@Suite("fleet trust", .serialized)
struct FleetTrustTests {
    static func hookRuns(_ log: String) -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init).sorted()
    }

    static func occurrences(_ text: String, in output: String) -> Int {
        output.components(separatedBy: text).count - 1
    }

    /// Items 6 and 7: s1 and s2 get each other's chain (psql), f a flipped byte in its sealed
    /// key, g a version 2 holding h's chain with g's key, sealed by someone with the fleet's key
    /// file (so only the check can refuse it). A syncing machine installs h alone, runs h's
    /// deploy hook alone, says once for each of the four which version was not installed and
    /// why, and exits 1 naming those four only. A new issuer's run goes on too: it reports each
    /// once (though it syncs twice), issues the four anew and installs h; the next sync heals.
    @Test func aBadVersionIsSkippedAndTheRestInstalled() async throws {
        let fleet = try await FleetLab.start(lag: 1)
        defer { fleet.stop() }
        let names = ["s1", "s2", "f", "g", "h"]
        let issued = try await CLIRunner.run(["run", "-c", try fleet.writeConfig("issuer", names.map { FleetLab.certificate($0) }.joined()), "--json"])
        #expect(issued.status == 0, "\(issued.stderr)")
        #expect(try RunSummary(issued).issued == 5)

        _ = try fleet.postgres.psql("""
            UPDATE dns01_versions v SET chain = o.chain FROM dns01_versions o
            WHERE v.name IN ('s1', 's2') AND o.name IN ('s1', 's2') AND o.name <> v.name
            """)
        _ = try fleet.postgres.psql("UPDATE dns01_versions SET key_sealed = set_byte(key_sealed, 20, get_byte(key_sealed, 20) # 1) WHERE name = 'f'")
        let issuerLive = "\(fleet.stateDir("issuer"))/live"
        let gKey = try String(contentsOfFile: "\(issuerLive)/g/privkey.pem", encoding: .utf8)
        let hChain = try String(contentsOfFile: "\(issuerLive)/h/fullchain.pem", encoding: .utf8)
        let url = fleet.postgres.url, keyFile = fleet.keyFile
        let forged = try await PostgreSQLServer.offPool {
            let database = try FleetDatabase(connectionString: url, sealing: try SealingKey(file: keyFile))
            defer { database.close() }
            return try database.storeVersion(name: "g", chainPEM: hChain, keyPEM: gKey, names: ["g.example.test"],
                                             notAfter: Date().addingTimeInterval(86400))
        }
        #expect(forged == 2)

        let log = "\(fleet.lab.directory)/web1-hooks.log"
        let web1 = try fleet.writeConfig("web1", names.map { FleetLab.certificate($0, deployHook: "echo $DNS01_CERT_NAME >> \(log)") }.joined())
        let sync = try await CLIRunner.run(["sync", "-c", web1])
        #expect(sync.status == 1, "\(sync.stdout)\n\(sync.stderr)")
        let failed = ["s1 version 1", "s2 version 1", "f version 1", "g version 2"]
        for label in failed {
            #expect(Self.occurrences("\(label) from the fleet's database was not installed: ", in: sync.stderr) == 1, "\(label): \(sync.stderr)")
            #expect(sync.stdout.contains("\(label): not installed ("), "\(sync.stdout)")
        }
        let server = "PostgreSQL at 127.0.0.1:\(fleet.postgres.port)"
        for name in ["s1", "s2", "f"] {
            #expect(sync.stderr.contains("The private key of \(name) version 1 in \(server) does not open with [storage] key_file"), "\(sync.stderr)")
        }
        #expect(sync.stderr.contains("The certificate of g version 2 in \(server) is for another public key than the private key stored with it."),
                "\(sync.stderr)")
        let last = sync.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.hasPrefix("dns01: Not installed from the fleet's database: ") && last.hasSuffix("; the other certificates are synced."), "\(last)")
        for label in failed { #expect(last.contains(label), "\(last)") }
        #expect(!last.contains("h version"), "\(last)")
        #expect(sync.stdout.contains("1 updated, 4 not installed, 0 unchanged"), "\(sync.stdout)")

        // h is installed, byte for byte, and only its hook ran; nothing of the others is here.
        #expect(Self.hookRuns(log) == ["h"])
        let web1Live = "\(fleet.stateDir("web1"))/live"
        #expect(FileManager.default.contents(atPath: "\(web1Live)/h/fullchain.pem") == FileManager.default.contents(atPath: "\(issuerLive)/h/fullchain.pem"))
        #expect(FileManager.default.contents(atPath: "\(web1Live)/h/privkey.pem") == FileManager.default.contents(atPath: "\(issuerLive)/h/privkey.pem"))
        for name in ["s1", "s2", "f", "g"] {
            #expect(!FileManager.default.fileExists(atPath: "\(web1Live)/\(name)"), "\(name)")
            #expect(!FileManager.default.fileExists(atPath: "\(fleet.stateDir("web1"))/archive/\(name)"), "\(name)")
        }

        // A new issuer: its run reports each bad version once, issues those four anew, and
        // installs h (not due).
        let newIssuer = try await CLIRunner.run(["run", "-c", try fleet.writeConfig("m3", names.map { FleetLab.certificate($0) }.joined()), "--json"])
        #expect(newIssuer.status == 0, "\(newIssuer.stderr)")
        let summary = try RunSummary(newIssuer)
        for name in ["s1", "s2", "f", "g"] { #expect(summary.status(name) == "issued", "\(name): \(summary.certificates)") }
        #expect(summary.status("h") == "skipped")
        for label in failed {
            #expect(Self.occurrences("\(label) from the fleet's database was not installed: ", in: newIssuer.stderr) == 1, "\(label): \(newIssuer.stderr)")
        }
        #expect(FileManager.default.contents(atPath: "\(fleet.stateDir("m3"))/live/h/cert.pem") == FileManager.default.contents(atPath: "\(issuerLive)/h/cert.pem"))

        let healed = try await CLIRunner.run(["sync", "-c", web1, "--json"])
        #expect(healed.status == 0, "\(healed.stderr)")
        #expect(Set(try SyncSummary(healed).updated.map(\.name)) == ["s1", "s2", "f", "g"])
        #expect(Self.hookRuns(log) == ["f", "g", "h", "s1", "s2"])
    }

    /// Item 8: a sync that asked the database before a run on the same machine installed the
    /// version, and installs after it, finds it live and runs no second hook; two syncs that
    /// both asked before either installed a renewal: one installs it and runs the hook once.
    @Test func aSyncRacingARunRunsTheDeployHookOnce() async throws {
        let fleet = try await FleetLab.start(lag: 1)
        defer { fleet.stop() }
        let issuer = try fleet.writeConfig("issuer", FleetLab.certificate("y"))
        let first = try await CLIRunner.run(["run", "-c", issuer])
        #expect(first.status == 0, "\(first.stderr)")
        let log = "\(fleet.lab.directory)/web1-hooks.log"
        let web1 = try fleet.writeConfig("web1", FleetLab.certificate("y", deployHook: "echo $DNS01_CERT_NAME >> \(log)"))
        let config = try Configuration.load(path: web1)
        let database = try await config.storage.openDatabase()
        defer { database.close() }
        let sync = FleetSync(config: config, fleet: database, events: { _ in })

        // The sync asks (version 1; live/ has none yet); a run here installs version 1 and runs
        // the hook; then the sync installs what it found.
        let pending = try await sync.changes()
        #expect(pending.changes.versions.map(\.version) == [1])
        let run = try await CLIRunner.run(["run", "-c", web1, "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try RunSummary(run).status("y") == "skipped")
        #expect(Self.hookRuns(log) == ["y"])
        let late = try await sync.apply(pending)
        #expect(late.updated.isEmpty && late.failed.isEmpty, "\(late.updated.map(\.name)) \(late.failed)")
        #expect(Self.hookRuns(log) == ["y"])

        // A renewal, and two syncs that both asked before either installed it.
        let renewed = try await CLIRunner.run(["run", "-c", issuer, "--force"])
        #expect(renewed.status == 0, "\(renewed.stderr)")
        let one = try await sync.changes(), two = try await sync.changes()
        #expect(one.changes.versions.map(\.version) == [2] && two.changes.versions.map(\.version) == [2])
        async let a = sync.apply(one)
        async let b = sync.apply(two)
        let both = try await [a, b]
        #expect(both.map(\.updated.count).sorted() == [0, 1])
        #expect(Self.hookRuns(log) == ["y", "y"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: "\(fleet.stateDir("web1"))/live/y") == "../archive/y/0002")
    }
}
