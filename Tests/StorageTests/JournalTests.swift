@testable import DNS01
import Files
import Foundation
import Providers
import Settings
import Testing

/// The journal's trust rules, without DNS: who counts as gone, which directories and values it
/// accepts, back-off, and records leaving every entry once cleaned.
@Suite("journal")
struct JournalTests {
    static func temporaryStateDir() throws -> String {
        let directory = NSTemporaryDirectory() + "dns01-journal-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return directory
    }

    static func record(_ value: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", name: String = "_acme-challenge.example.test",
                       zone: String = "example.test") -> ChallengeRecord {
        ChallengeRecord(target: ChallengeTarget(domain: "example.test", challengeName: name, recordName: name, zone: zone, provider: "lab"),
                        value: value)
    }

    /// Writes an entry file as a dns01 run would have (0600).
    static func plant(_ entry: Journal.Entry, in stateDir: String, name: String = "planted.json") throws -> String {
        let directory = stateDir + "/journal"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let path = "\(directory)/\(name)"
        try FileSystem.writeAtomically(Array(try encoder.encode(entry)), to: path, mode: 0o600)
        return path
    }

    /// The parent (the test runner's launcher) is alive and started before this test.
    static let living = ProcessIdentity.of(pid: getppid())!

    enum Writer: String, CaseIterable, CustomTestStringConvertible {
        case running, otherBoot, pidReused, noSuchProcess, legacyRunning, legacyPidReused, legacyNoSuchProcess
        var testDescription: String { rawValue }

        var entry: Journal.Entry {
            let live = JournalTests.living
            let before = Date().addingTimeInterval(-86400 * 365 * 30)
            let records = [JournalTests.record()]
            switch self {
            case .running: return .init(pid: live.pid, owner: live, created: Date(), records: records)
            case .otherBoot:
                var owner = live
                owner.bootID = "00000000-0000-0000-0000-000000000000"
                return .init(pid: live.pid, owner: owner, created: Date(), records: records)
            case .pidReused:
                var owner = live
                owner.startTime += 1
                return .init(pid: live.pid, owner: owner, created: Date(), records: records)
            case .noSuchProcess:
                let owner = ProcessIdentity(bootID: live.bootID, pid: Int32.max - 1, startTime: 1)
                return .init(pid: owner.pid, owner: owner, created: Date(), records: records)
            // Entries of older versions name a pid only.
            case .legacyRunning: return .init(pid: live.pid, created: Date(), records: records)
            case .legacyPidReused: return .init(pid: live.pid, created: before, records: records)
            case .legacyNoSuchProcess: return .init(pid: Int32.max - 1, created: Date(), records: records)
            }
        }

        var orphan: Bool { self != .running && self != .legacyRunning }
    }

    /// After a reboot or once its pid is reused, a writer is gone although the pid is alive.
    @Test(arguments: Writer.allCases)
    func anEntryIsAnOrphanOnlyWhenItsWriterIsGone(_ writer: Writer) throws {
        let stateDir = try Self.temporaryStateDir()
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let path = try Self.plant(writer.entry, in: stateDir)
        let scan = try Journal(stateDir: stateDir).scan()
        #expect(scan.rejected.isEmpty)
        #expect(scan.orphans.map(\.path) == (writer.orphan ? [path] : []))
    }

    /// A state or journal directory another user may write to is refused, naming it and its mode.
    @Test(arguments: [("0700", nil), ("0755", nil), ("0777", "group and others"), ("0770", "its group"), ("0703", "others")] as [(String, String?)])
    func aDirectoryOthersMayWriteIsRefused(mode: String, refusal: String?) throws {
        let stateDir = try Self.temporaryStateDir()
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        for (directory, role) in [(stateDir, "state_dir"), (stateDir + "/journal", "The journal directory")] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            chmod(stateDir, 0o700)
            chmod(directory, try #require(mode_t(mode, radix: 8)))
            let journal = Journal(stateDir: stateDir)
            if let refusal {
                let error = try #require(throws: ConfigError.self) { try journal.checkDirectories() }
                #expect(error.message.hasPrefix("\(role) \(directory) is writable by \(refusal) (mode \(mode))"), "\(error.message)")
                #expect(throws: ConfigError.self) { try journal.add([Self.record()]) }
                #expect(throws: ConfigError.self) { try journal.scan() }
            } else {
                try journal.checkDirectories()
            }
        }
    }

    enum Planted: String, CaseIterable, CustomTestStringConvertible {
        case spf, dkim, shortValue, notAChallengeName, outsideTheZone, notJSON, groupWritable
        var testDescription: String { rawValue }
    }

    /// Only values of the dns-01 shape at `_acme-challenge` names in their zone, in files only
    /// the user could write, are trusted; anything else is set aside and nothing it names is
    /// removed.
    @Test(arguments: Planted.allCases)
    func entriesNamingValuesDns01NeverWritesAreSetAside(_ planted: Planted) throws {
        let stateDir = try Self.temporaryStateDir()
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let record: ChallengeRecord = switch planted {
        case .spf: Self.record("v=spf1 ip4:192.0.2.0/24 -all")
        case .dkim: Self.record("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA", name: "_acme-challenge.example.test")
        case .shortValue: Self.record("abc")
        case .notAChallengeName: Self.record(name: "example.test")
        case .outsideTheZone: Self.record(name: "_acme-challenge.example.org")
        case .notJSON, .groupWritable: Self.record()
        }
        let gone = ProcessIdentity(bootID: "00000000-0000-0000-0000-000000000000", pid: 1, startTime: 1)
        let path = try Self.plant(.init(pid: 1, owner: gone, created: Date(), records: [record]), in: stateDir)
        if planted == .notJSON { try FileSystem.writeAtomically("not json", to: path, mode: 0o600) }
        if planted == .groupWritable { chmod(path, 0o660) }
        let scan = try Journal(stateDir: stateDir).scan()
        #expect(scan.orphans.isEmpty)
        #expect(scan.rejected.map(\.path) == [path])
        #expect(scan.rejected.first?.reason.contains(path) == true)
        #expect(FileManager.default.fileExists(atPath: path + ".rejected") && !FileManager.default.fileExists(atPath: path))
        // Reported once: the next scan does not see it again.
        #expect(try Journal(stateDir: stateDir).scan().rejected.isEmpty)
    }

    /// dns-account-01 records (`_<label>._acme-challenge.NAME`) are dns01's too: a killed run's
    /// are cleaned up like dns-01's; a name that only looks like one is set aside.
    @Test(arguments: [("_ujmmovf2vn55tgye._acme-challenge.example.test", true), ("_UJMMOVF2VN55TGYE._acme-challenge.example.test", true),
                      ("_ujmmovf2vn55tgy._acme-challenge.example.test", false), ("_ujmmovf2vn55tgy1._acme-challenge.example.test", false),
                      ("www._acme-challenge.example.test", false), ("_ujmmovf2vn55tgye.www.example.test", false)])
    func accountLabelledChallengeNamesAreTrusted(name: String, trusted: Bool) throws {
        let stateDir = try Self.temporaryStateDir()
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let gone = ProcessIdentity(bootID: "00000000-0000-0000-0000-000000000000", pid: 1, startTime: 1)
        _ = try Self.plant(.init(pid: 1, owner: gone, created: Date(), records: [Self.record(name: name)]), in: stateDir)
        let scan = try Journal(stateDir: stateDir).scan()
        #expect(scan.orphans.count == (trusted ? 1 : 0))
        #expect(scan.rejected.count == (trusted ? 0 : 1))
    }

    @Test(arguments: [(1, 3600.0), (2, 7200), (3, 14400), (8, 460_800), (9, 604_800), (50, 604_800), (0, 3600), (-3, 3600)])
    func backOffDoublesFromAnHourToAWeek(failures: Int, seconds: Double) {
        #expect(Journal.retryDelay(afterFailures: failures) == seconds)
    }

    /// A failed cleanup is noted once per attempt, and the entry waits out its back-off.
    @Test func aFailingEntryWaitsForItsBackOff() throws {
        let stateDir = try Self.temporaryStateDir()
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let gone = ProcessIdentity(bootID: "00000000-0000-0000-0000-000000000000", pid: 1, startTime: 1)
        let path = try Self.plant(.init(pid: 1, owner: gone, created: Date(), records: [Self.record()]), in: stateDir)
        let journal = Journal(stateDir: stateDir)
        let now = Date()
        let entry = try #require(try journal.recordFailure(at: path, reason: "REFUSED.", now: now))
        #expect(entry.failures == 1 && entry.lastError == "REFUSED.")
        #expect(try journal.scan(now: now.addingTimeInterval(60)).deferred.map(\.path) == [path])
        #expect(try journal.scan(now: now.addingTimeInterval(3601)).orphans.map(\.path) == [path])
        #expect(try journal.recordFailure(at: path, reason: "REFUSED.", now: now)?.failures == 2)
    }

    /// Records cleaned by another process (certbot's cleanup hook) leave the entry that the
    /// auth hook's process wrote; an entry left empty is deleted.
    @Test func cleanedRecordsLeaveEveryEntry() throws {
        let stateDir = try Self.temporaryStateDir()
        defer { try? FileManager.default.removeItem(atPath: stateDir) }
        let a = Self.record(), b = Self.record("0123456789abcdefghijklmnopqrstuvwxyzABCDEFG")
        let written = try Journal(stateDir: stateDir, owner: Self.living).add([a, b])
        let other = Journal(stateDir: stateDir)
        try other.forget([a])
        #expect(FileManager.default.fileExists(atPath: written))
        try other.forget([b])
        #expect(!FileManager.default.fileExists(atPath: written))
        #expect(try FileManager.default.contentsOfDirectory(atPath: stateDir + "/journal").filter { $0.hasSuffix(".json") }.isEmpty)
    }
}
