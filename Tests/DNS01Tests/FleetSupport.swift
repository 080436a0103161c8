import Foundation
import Testing
import TestLab

/// A lab (BIND primary and lagging secondary, Pebble) with a real PostgreSQL beside it, and the
/// two files `[storage] type = "postgres"` reads (0600). Each "machine" is a state_dir of its own
/// under the lab's directory; they share the database.
struct FleetLab {
    let lab: TestLab
    let postgres: PostgreSQLServer

    static func start(lag: Int) async throws -> FleetLab {
        let lab = try await TestLab.start(.init(secondaryLag: lag))
        do {
            let fleet = FleetLab(lab: lab, postgres: try await lab.startPostgreSQL())
            try Self.writeSecret(fleet.postgres.url, to: fleet.urlFile)
            let key = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
            try Self.writeSecret(key, to: fleet.keyFile)
            return fleet
        } catch {
            lab.stop()
            throw error
        }
    }

    /// Stops the lab and its PostgreSQL.
    func stop() { lab.stop() }

    var urlFile: String { "\(lab.directory)/pg.url" }
    var keyFile: String { "\(lab.directory)/pg.key" }
    func stateDir(_ machine: String) -> String { "\(lab.directory)/\(machine)" }

    /// Writes a config for `machine` (its own state_dir, the shared database) with `certificates`
    /// (TOML text); `file` names it when one machine needs two configs. Returns its path.
    func writeConfig(_ machine: String, _ certificates: String, file: String? = nil) throws -> String {
        let path = "\(lab.directory)/\(file ?? machine).toml"
        let text = lab.configTOML(stateDir: stateDir(machine))
            + "\n[storage]\ntype = \"postgres\"\nurl_file = \"\(urlFile)\"\nkey_file = \"\(keyFile)\"\n" + certificates
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A [[certificate]] entry: `NAME.example.test`, and `*.NAME.example.test` with `wildcard`.
    static func certificate(_ name: String, wildcard: Bool = false, deployHook: String? = nil) -> String {
        let domains = (wildcard ? ["\"*.\(name).example.test\""] : []) + ["\"\(name).example.test\""]
        let hook = deployHook.map { "deploy_hook = \"\($0)\"\n" } ?? ""
        return "\n[[certificate]]\nname = \"\(name)\"\ndomains = [\(domains.joined(separator: ", "))]\n\(hook)"
    }

    /// The rows a query prints through psql (fields separated by "|"), one per line.
    func rows(_ sql: String) throws -> [String] {
        let text = try postgres.psql(sql)
        return text.isEmpty ? [] : text.components(separatedBy: "\n")
    }

    func count(_ sql: String) throws -> Int {
        let text = try postgres.psql(sql)
        guard let number = Int(text) else { throw LabError("'\(sql)' gave '\(text)', not a count") }
        return number
    }

    /// Live versions that are not complete: a live_version without its version row, or whose row
    /// lacks the chain or the sealed key.
    func incompleteLiveVersions() throws -> [String] {
        try rows("""
            SELECT c.name FROM dns01_certificates c
            LEFT JOIN dns01_versions v ON v.name = c.name AND v.version = c.live_version
            WHERE c.live_version IS NOT NULL
              AND (v.version IS NULL OR v.chain NOT LIKE '-----BEGIN CERTIFICATE-----%' OR v.key_sealed IS NULL
                   OR length(v.key_sealed) < 28)
            """)
    }

    /// Every row of every dns01 table, as `pg_dump --data-only` prints them.
    func dataDump() throws -> String {
        let result = try runProcess("\(postgres.binDirectory)/pg_dump",
                                    ["--data-only", "--no-password", "-h", postgres.host, "-p", String(postgres.port),
                                     "-U", postgres.user, postgres.database],
                                    environment: postgres.libpqEnvironment)
        guard result.status == 0 else { throw LabError("pg_dump failed: \(result.stderr)") }
        return result.stdout
    }

    /// Waits until no session of the database is named `applicationName` (the server has seen
    /// its connection close).
    func waitForSessionToEnd(_ applicationName: String) async throws {
        let deadline = Date().addingTimeInterval(30)
        let quoted = applicationName.replacingOccurrences(of: "'", with: "''")
        while try count("SELECT count(*) FROM pg_stat_activity WHERE application_name = '\(quoted)'") > 0 {
            guard Date() < deadline else { throw LabError("the session \(applicationName) is still in PostgreSQL after 30 s") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private static func writeSecret(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data((text + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
            throw LabError("cannot write \(path)")
        }
    }
}

/// A `dns01` process started in the background, its stdout and stderr going to files, so a test
/// can act while it runs (kill it, restart its database) and knows its pid (its PostgreSQL
/// session is named after it).
final class BackgroundDNS01: @unchecked Sendable {
    let process = Process()
    let stdoutPath: String
    let stderrPath: String

    init(_ arguments: [String], logs directory: String) throws {
        let tag = "dns01-\(UInt32.random(in: 0...UInt32.max))"
        stdoutPath = "\(directory)/\(tag).out"
        stderrPath = "\(directory)/\(tag).err"
        for path in [stdoutPath, stderrPath] { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "DNS01_CONFIG")
        process.executableURL = URL(fileURLWithPath: CLIRunner.executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    /// The name its database session has in `pg_stat_activity` and the server log.
    var applicationName: String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        return String("dns01 on \(host) pid \(pid)".prefix(63))
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Returns once stderr holds `text`; throws when the process ends first or after `seconds`.
    func waitForStderr(_ text: String, seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !stderr.contains(text) {
            guard process.isRunning else { throw LabError("dns01 exited before printing '\(text)':\n\(stderr)") }
            guard Date() < deadline else { throw LabError("dns01 did not print '\(text)' within \(Int(seconds)) s:\n\(stderr)") }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// Waits for the end (SIGKILL after `seconds`, then throws); returns what it printed.
    func finish(seconds: Double = 180) async throws -> CLIResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning {
            guard Date() < deadline else {
                kill(pid, SIGKILL)
                throw LabError("dns01 \(process.arguments?.joined(separator: " ") ?? "") did not end within \(Int(seconds)) s:\n\(stderr)")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        return CLIResult(status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}

/// `dns01 run --json`'s summary, as much of it as the fleet tests read.
struct RunSummary: Decodable {
    struct Item: Decodable {
        var name: String
        var status: String
        var reason: String?
        var error: String?
    }

    var certificates: [Item]
    var issued: Int
    var skipped: Int
    var failed: Int

    init(_ result: CLIResult) throws {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(result.stdout.utf8))
        } catch {
            throw LabError("dns01 run --json printed no summary (exit \(result.status)):\n\(result.stdout)\n\(result.stderr)")
        }
    }

    func status(_ name: String) -> String? { certificates.first { $0.name == name }?.status }
}

/// `dns01 sync --json`'s summary.
struct SyncSummary: Decodable {
    struct Item: Decodable {
        var name: String
        var version: Int
    }

    var updated: [Item]
    var missing: [String]
    var queries: Int

    init(_ result: CLIResult) throws {
        do {
            self = try JSONDecoder().decode(Self.self, from: Data(result.stdout.utf8))
        } catch {
            throw LabError("dns01 sync --json printed no summary (exit \(result.status)):\n\(result.stdout)\n\(result.stderr)")
        }
    }
}
