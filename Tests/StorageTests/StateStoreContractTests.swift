import ACME
@testable import DNS01
import Foundation
import Storage
import Testing
import TestLab

/// The `StateStore` contract, run against both backends: the directory (a temp dir) and
/// PostgreSQL (a real server from TestLab). What must hold whatever `[storage] type` says is
/// checked alike; where the backends differ on purpose (only PostgreSQL shares state between
/// machines), each expectation says which backend gives what.
@Suite("state store contract (directory and PostgreSQL)", .serialized)
struct StateStoreContractTests {
    enum Backend: String, CaseIterable, Sendable { case directory, postgres }

    /// Two "machines" (state directories) on one backend; for PostgreSQL each store is a
    /// session of its own on one database, for the directory they share nothing but their own
    /// directory. `reopen` gives a new store (a new session) of a machine.
    final class Fixture: @unchecked Sendable {
        let backend: Backend
        let directory: String
        let server: PostgreSQLServer?
        let url: String?
        let sealing = SealingKey(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })

        init(_ backend: Backend) async throws {
            self.backend = backend
            directory = NSTemporaryDirectory() + "dns01-statestore-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            if backend == .postgres {
                let server = try await PostgreSQLServer.start()
                self.server = server
                url = server.url
            } else {
                server = nil
                url = nil
            }
        }

        func stateDir(_ machine: String) -> String { "\(directory)/\(machine)" }

        func open(_ machine: String) async throws -> any StateStore {
            let stateDir = stateDir(machine)
            try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            guard let url else { return DirectoryStateStore(stateDir: stateDir) }
            let sealing = self.sealing
            // libpq blocks its thread: off the cooperative pool, which suites running beside
            // this one need.
            let database = try await PostgreSQLServer.offPool { try FleetDatabase(connectionString: url, sealing: sealing, migrate: true) }
            return PostgresStateStore(database: database, stateDir: stateDir)
        }

        func stop() {
            server?.stopAndRemove()
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// A config of one machine: its state directory, the CA at https://ca.example/dir, and the
    /// [[certificate]] "www".
    static func config(stateDir: String) throws -> Configuration {
        try Configuration.parse("""
            [acme]
            directory = "https://ca.example/dir"
            state_dir = "\(stateDir)"
            [[provider]]
            name = "bind"
            type = "shell"
            command = "/bin/true"
            [[certificate]]
            name = "www"
            domains = ["www.example.test"]
            provider = "bind"
            """, path: "\(stateDir).toml")
    }

    static let gone = ProcessIdentity(bootID: "00000000-0000-0000-0000-000000000000", pid: 1, startTime: 1)

    static func record(_ name: String, _ value: Character) -> ChallengeRecord {
        let target = ChallengeTarget(domain: "\(name).example.test", challengeName: "_acme-challenge.\(name).example.test",
                                     recordName: "_acme-challenge.\(name).example.test", zone: "example.test", provider: "bind")
        return ChallengeRecord(target: target, value: String(repeating: value, count: 43))
    }

    /// Records journaled by a writer that is gone are found by the next scan (on the same
    /// machine for the directory, on any machine for PostgreSQL), kept there after a failed
    /// cleanup with its back-off, and gone once forgotten.
    @Test(arguments: Backend.allCases)
    func aGoneWritersRecordsAreFoundOnceAndForgotten(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.stop() }
        let writer = try await fixture.open("web1")
        let records = [Self.record("a", "A"), Self.record("b", "B")]
        // The directory's writer is a process that is gone; PostgreSQL's a session that ended.
        _ = try Journal(stateDir: writer.stateDir, owner: Self.gone, backend: writer.journalBackend).add(records)
        writer.close()
        let next = try await fixture.open(backend == .directory ? "web1" : "web2")
        defer { next.close() }
        let journal = Journal(stateDir: next.stateDir, backend: next.journalBackend)
        let scan = try journal.scan()
        #expect(scan.rejected.isEmpty)
        #expect(Set(scan.orphans.flatMap(\.entry.records)) == Set(records))
        let path = try #require(scan.orphans.first?.path)

        let now = Date(timeIntervalSince1970: 2_000_000_000)
        let failed = try #require(try journal.recordFailure(at: path, reason: "the provider said no", now: now))
        #expect(failed.failures == 1 && failed.lastError == "the provider said no")
        #expect(failed.retryAfter == now.addingTimeInterval(Journal.retryDelay(afterFailures: 1)))
        let waiting = try journal.scan(now: now)
        #expect(waiting.orphans.isEmpty && waiting.deferred.count == 1)

        try journal.forget(Set(records))
        let after = try journal.scan(now: now.addingTimeInterval(7 * 86400))
        #expect(after.orphans.isEmpty && after.deferred.isEmpty)
    }

    /// A new version goes through the one install: numbered by the directory (0001, 0002) or by
    /// the database (the same numbers, and then another machine's sync installs that version).
    @Test(arguments: Backend.allCases)
    func versionsAreNumberedAndOnlyTheSharedOnesReachAnotherMachine(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.stop() }
        let issuer = try await fixture.open("web1")
        defer { issuer.close() }
        let store = CertificateStore(state: issuer)
        for _ in 1...2 {
            let made = try CertificateStore.makePlaceholder(domains: ["www.example.test"], keyType: .ec256, now: Date())
            let installed = try await store.install(.init(name: "www", chainPEM: made.certificatePEM, keyPEM: made.keyPEM,
                                                          names: ["www.example.test"], source: .new,
                                                          origin: .init(phrase: "made here", key: "its key", names: "its names", empty: "none")),
                                                    events: { _ in })
            #expect(installed.changed)
            #expect(installed.version == (backend == .postgres ? store.liveVersionNumber("www") : nil))
        }
        #expect(store.liveVersionNumber("www") == 2)

        let other = try await fixture.open("web2")
        defer { other.close() }
        let config = try Self.config(stateDir: other.stateDir)
        let synced = try await other.syncLive(nil, config: config, events: { _ in })
        switch backend {
        case .directory:
            #expect(synced == nil)
            #expect(CertificateStore(state: other).liveVersionNumber("www") == nil)
        case .postgres:
            #expect(synced?.updated.map(\.version) == [2])
            #expect(CertificateStore(state: other).liveVersionNumber("www") == 2)
        }
    }

    /// The lock other machines honour: PostgreSQL refuses a held certificate naming its holder
    /// until it is released; the directory has no machine but this one (its per-certificate
    /// flock, which every backend takes too, is `CertificateLock`'s).
    @Test(arguments: Backend.allCases)
    func sharedLocksExcludeOtherMachinesOnlyWhereStateIsShared(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.stop() }
        let first = try await fixture.open("web1"), second = try await fixture.open("web2")
        defer { first.close(); second.close() }
        #expect(try await first.lockShared(["www", "api"], waitSeconds: nil).locked == ["www", "api"])
        let refused = try await second.lockShared(["www"], waitSeconds: nil)
        switch backend {
        case .directory:
            #expect(refused.locked == ["www"] && refused.refusals.isEmpty)
        case .postgres:
            #expect(refused.locked.isEmpty)
            #expect(refused.refusals["www"]?.hasPrefix("www is being worked on by ") == true)
            await first.releaseShared(["www"])
            #expect(try await second.lockShared(["www"], waitSeconds: nil).locked == ["www"])
        }
    }

    /// Run history: pushed by one machine, pulled by the next (PostgreSQL); the directory's
    /// history stays where it was written.
    @Test(arguments: Backend.allCases)
    func runHistoryIsSharedOnlyWhereStateIsShared(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.stop() }
        let first = try await fixture.open("web1"), second = try await fixture.open("web2")
        defer { first.close(); second.close() }
        var history = RunHistory()
        history.recordFailure("the CA said no", at: Date(timeIntervalSince1970: 1_900_000_000))
        try RunHistoryStore(stateDir: first.stateDir).write(history, for: "www")
        try await first.pushHistory(["www"])
        try await second.pullHistory(["www"])
        let pulled = RunHistoryStore(stateDir: second.stateDir).read("www")
        switch backend {
        case .directory: #expect(pulled.consecutiveFailures == 0 && !RunHistoryStore(stateDir: second.stateDir).exists("www"))
        case .postgres: #expect(pulled.consecutiveFailures == 1 && pulled.lastError == "the CA said no")
        }
    }

    /// The account: what one machine registered (its files, inside `withAccount`) is the next
    /// machine's account with PostgreSQL; with the directory it stays on its machine.
    @Test(arguments: Backend.allCases)
    func theAccountIsSharedOnlyWhereStateIsShared(_ backend: Backend) async throws {
        let fixture = try await Fixture(backend)
        defer { fixture.stop() }
        let first = try await fixture.open("web1"), second = try await fixture.open("web2")
        defer { first.close(); second.close() }
        func account(_ state: any StateStore) throws -> AccountStore {
            AccountStore(config: try Self.config(stateDir: state.stateDir).acme, state: state)
        }
        let registering = try account(first)
        try await first.withAccount(registering, push: true) {
            try FileManager.default.createDirectory(atPath: registering.directory, withIntermediateDirectories: true)
            try "{\"url\":\"https://ca.example/acct/1\",\"directory\":\"https://ca.example/dir\",\"contact\":[],\"created\":\"x\"}"
                .write(toFile: registering.recordPath, atomically: true, encoding: .utf8)
            try "KEY PEM\n".write(toFile: registering.keyPath, atomically: true, encoding: .utf8)
        }
        let joining = try account(second)
        try FileManager.default.createDirectory(atPath: joining.directory, withIntermediateDirectories: true)
        let found = try await second.withAccount(joining, push: false) { joining.readRecord()?.url }
        #expect(found == (backend == .postgres ? "https://ca.example/acct/1" : nil))
        try await second.forgetAccount(directoryURL: "https://ca.example/dir")
        let third = try await fixture.open("web3")
        defer { third.close() }
        let fresh = try account(third)
        try FileManager.default.createDirectory(atPath: fresh.directory, withIntermediateDirectories: true)
        #expect(try await third.withAccount(fresh, push: false) { fresh.readRecord() } == nil)
    }
}
