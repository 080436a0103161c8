import Foundation
import Testing
import TestLab

/// The lab's PostgreSQL (TestLab's `PostgreSQLServer`): a real postgres from Debian's packages,
/// which the storage tests run against.
@Suite("PostgreSQL in the test lab", .serialized)
struct PostgreSQLLabTests {
    @Test func answersOverTheSocketAndOverTCPWithThePassword() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        #expect(try server.psql("select 1") == "1")
        #expect(try server.psqlOverTCP("select current_user, current_database()", applicationName: "pglab-test") == "dns01|dns01")
        #expect(throws: (any Error).self) { try server.psqlOverTCP("select 1", password: "not-" + server.password) }
        #expect(server.url == "postgresql://dns01:\(server.password)@127.0.0.1:\(server.port)/dns01")
        #expect(server.password.count == 32)
        #expect(try String(contentsOfFile: server.passwordFile, encoding: .utf8) == server.password)
        // Every statement is in the log under its session's application name.
        #expect(server.statements(applicationName: "pglab-test") == ["select current_user, current_database()"])
        // initdb and postgres refuse root: as root, the server runs as another user.
        let pid = try #require(server.pid)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uid = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }?.split(separator: "\t").dropFirst().first
        if geteuid() == 0 { #expect(uid != "0") } else { #expect(uid == Substring(String(geteuid()))) }
    }

    @Test func restartKeepsTheDataAndThePort() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        try server.psql("create table kept (value text); insert into kept values ('before restart')")
        let firstPid = try #require(server.pid)
        try await server.restart()
        #expect(server.pid != nil && server.pid != firstPid)
        #expect(try server.psqlOverTCP("select value from kept") == "before restart")
        #expect(try server.psql("show port") == String(server.port))
        // The log goes on across the restart (psql sends one statement at a time).
        #expect(server.statements(applicationName: PostgreSQLServer.psqlApplicationName) == [
            "create table kept (value text);", "insert into kept values ('before restart')",
            "select value from kept", "show port",
        ])
    }

    @Test func stopLeavesNoProcess() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        try server.psql("select 1")
        let pid = try #require(server.pid)
        let children = Self.children(of: pid)
        #expect(children.count >= 3)  // checkpointer, background writer, walwriter, ...
        server.stop()
        #expect(server.pid == nil)
        for process in [pid] + children { #expect(!Self.exists(process)) }
        #expect(!FileManager.default.fileExists(atPath: "\(server.dataDirectory)/postmaster.pid"))
        #expect(throws: (any Error).self) { try server.psql("select 1") }
    }

    /// A crash (SIGKILL to every server process) and a start again: what was committed is there.
    @Test func killThenRestartRecovers() async throws {
        let server = try await PostgreSQLServer.start()
        defer { server.stopAndRemove() }
        try server.psql("create table kept (value int); insert into kept values (42)")
        let pid = try #require(server.pid)
        let children = Self.children(of: pid)
        server.kill()
        for process in [pid] + children { #expect(!Self.exists(process)) }
        try await server.restart()
        #expect(try server.psql("select value from kept") == "42")
    }

    @Test func theLabStopsItsPostgreSQL() async throws {
        let lab = try await TestLab.start(.init(zones: [], startPebble: false))
        defer { lab.stop() }
        let pid = try await Self.startAndDropHandle(lab)
        // A lab's server runs on without its handle, until the lab stops.
        #expect(Self.exists(pid))
        #expect(lab.pids["postgres"] == pid)
        await #expect(throws: (any Error).self) { try await lab.startPostgreSQL() }
        lab.stop()
        #expect(!Self.exists(pid))
    }

    static func startAndDropHandle(_ lab: TestLab) async throws -> Int32 {
        let server = try await lab.startPostgreSQL()
        #expect(server.directory.hasPrefix(lab.directory))
        #expect(try server.psqlOverTCP("select 1") == "1")
        return try #require(server.pid)
    }

    @Test(arguments: [
        // One statement per line, several sessions and applications interleaved.
        ("2026-11-24 12:27:27.426 UTC [17439] app LOG:  statement: select 1\n"
            + "2026-11-24 12:27:27.427 UTC [17440] other LOG:  statement: select 2\n"
            + "2026-11-24 12:27:27.428 UTC [17439] app LOG:  statement: select 3\n", ["select 1", "select 3"]),
        // A statement of several lines keeps them; another message's continuation is not taken.
        ("2026-11-24 12:27:27.561 UTC [17446] app LOG:  statement: select\n\t  2;\n"
            + "2026-11-24 12:27:27.562 UTC [17447] other LOG:  statement: select\n\t  9;\n", ["select\n  2;"]),
        // Extended protocol: unnamed and prepared executions, their parameters apart.
        ("2026-11-24 12:27:27.561 UTC [1] app LOG:  execute <unnamed>: select $1\n"
            + "2026-11-24 12:27:27.561 UTC [1] app DETAIL:  parameters: $1 = 'x'\n"
            + "2026-11-24 12:27:27.562 UTC [1] app LOG:  execute lock_1: select pg_advisory_lock($1)\n",
         ["select $1", "select pg_advisory_lock($1)"]),
        // Another application whose name ends in this one's, a message quoting the prefix, errors.
        ("2026-11-24 12:27:27.561 UTC [1] myapp LOG:  statement: select 1\n"
            + "2026-11-24 12:27:27.561 UTC [2] other LOG:  statement: select '] app LOG:  statement: no'\n"
            + "2026-11-24 12:27:27.561 UTC [3] app ERROR:  relation \"x\" does not exist\n", []),
    ])
    func statementsAreReadFromTheLog(log: String, expected: [String]) {
        #expect(PostgreSQLServer.statements(inLog: log, applicationName: "app") == expected)
    }

    /// The pids whose parent is `pid`.
    static func children(of pid: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            return stat[stat.index(after: close)...].split(separator: " ").dropFirst().first == Substring(String(pid))
        }
    }

    /// True while `pid` is a process that is not a zombie.
    static func exists(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }
}
