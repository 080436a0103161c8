@testable import DNS01
import Foundation
import Testing

/// Run history and back-off, with an injected `now`: no waiting.
@Suite("run history and back-off")
struct RunHistoryTests {
    /// Consecutive failures → seconds to wait: 1 h doubling to at most 24 h; nonsense counts
    /// from a damaged file neither trap nor back off forever.
    @Test(arguments: [(0, 0.0), (1, 3600), (2, 7200), (3, 14400), (5, 57600), (6, 86400), (100, 86400), (Int.max, 86400), (-3, 0)] as [(Int, Double)])
    func backoffGrowsAndIsCapped(_ failures: Int, _ seconds: Double) {
        #expect(RunHistory.backoff(afterFailures: failures) == seconds)
    }

    @Test func aFailureHoldsTheNextAttemptBackUntilItsBackoffPassed() {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var history = RunHistory()
        #expect(!history.isBackingOff(at: t0))
        history.recordFailure("The CA rejected the dns-01 challenge for a.test.", at: t0)
        #expect(history.retryAt == t0.addingTimeInterval(3600))
        #expect(history.isBackingOff(at: t0.addingTimeInterval(3599)))
        #expect(!history.isBackingOff(at: t0.addingTimeInterval(3600)))

        let t1 = t0.addingTimeInterval(4000)
        history.recordFailure("again", at: t1)
        #expect(history.consecutiveFailures == 2)
        #expect(history.retryAt == t1.addingTimeInterval(7200))
        #expect(history.isBackingOff(at: t1.addingTimeInterval(7000)))

        let t2 = t1.addingTimeInterval(8000)
        history.recordSuccess(at: t2)
        #expect(history == RunHistory(lastAttempt: t2, lastSuccess: t2, lastFailure: t1, lastError: "again", consecutiveFailures: 0))
        #expect(history.retryAt == nil)
        #expect(!history.isBackingOff(at: t2))
    }

    @Test func aLongErrorIsCut() {
        var history = RunHistory()
        history.recordFailure(String(repeating: "x", count: 5000), at: Date())
        #expect(history.lastError?.count == RunHistory.errorLimit + 1)
        #expect(history.lastError?.hasSuffix("…") == true)
    }

    @Test func theMessageSaysUntilWhenWhyAndHowToRetryNow() throws {
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        var history = RunHistory()
        history.recordFailure("Provider 'lab' failed.", at: t0)
        let message = BatchRun.backoffMessage(history, retryAt: try #require(history.retryAt))
        #expect(message == "not retried before 2027-01-15T09:00:00Z after 1 failed attempt (`dns01 run --force` retries now); last error: Provider 'lab' failed.")
    }

    static func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "dns01-history-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// One file per certificate, 0600, JSON with ISO 8601 times that other tools can read.
    @Test func storedAtomicallyAsReadableJSON() throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = RunHistoryStore(stateDir: directory)
        #expect(store.read("a") == RunHistory())
        let t0 = Date(timeIntervalSince1970: 1_800_000_000)
        try store.update("a") { $0.recordFailure("broken DNS", at: t0) }
        #expect(store.read("a") == RunHistory(lastAttempt: t0, lastFailure: t0, lastError: "broken DNS", consecutiveFailures: 1, firstFailure: t0))
        let path = "\(directory)/history/a.json"
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        #expect(json["lastFailure"] as? String == "2027-01-15T08:00:00Z")
        #expect(json["consecutiveFailures"] as? Int == 1)
        #expect(json["lastError"] as? String == "broken DNS")
        // Only the history file is left in the directory (no temporary files).
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/history") == ["a.json"])

        // A damaged file reads as no history and is replaced by the next write.
        try "{not json".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(store.read("a") == RunHistory())
        try store.update("a") { $0.recordSuccess(at: t0) }
        #expect(store.read("a").lastSuccess == t0)
    }
}
