@testable import DNS01
import Foundation
import Testing

/// `give_up_after`: back-off, give-up and --force decided from the stored times and an explicit
/// `now`, with no waiting.
@Suite("give up after failing for give_up_after")
struct GiveUpTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let hour: TimeInterval = 3600

    enum Expected: Sendable, CustomStringConvertible {
        case now, backingOff(hours: Double), givenUp
        var description: String {
            switch self {
            case .now: "now"
            case .backingOff(let hours): "backing off until +\(hours)h"
            case .givenUp: "given up"
            }
        }
    }

    /// (failures, in hours after the first; give_up_after in hours; now in hours; expected).
    /// Back-off 1 h doubling; the last retry comes no later than give_up_after after the first
    /// failure, and a failure at or after that gives up.
    @Test(arguments: [
        ([], 24, 0, Expected.now),
        ([0], 24, 0.5, .backingOff(hours: 1)),
        ([0], 24, 1, .now),
        ([0, 1, 3, 7], 24, 14, .backingOff(hours: 15)),
        // The next back-off (16 h) would end after the limit: the last retry is at 24 h.
        ([0, 1, 3, 7, 15], 24, 16, .backingOff(hours: 24)),
        ([0, 1, 3, 7, 15], 24, 24, .now),
        ([0, 1, 3, 7, 15, 24], 24, 24, .givenUp),
        ([0, 1, 3, 7, 15, 24], 24, 24 * 30, .givenUp),
        // A machine that was off for two days: one more try when it is back, then given up.
        ([0], 24, 48, .now),
        ([0, 48], 24, 48, .givenUp),
        ([0], 2, 0.5, .backingOff(hours: 1)),
        ([0, 1], 2, 1.5, .backingOff(hours: 2)),
        ([0, 1, 2], 2, 2, .givenUp),
        // give_up_after = "0s": no retry after the first failure.
        ([0], 0, 5, .givenUp),
    ] as [([Double], Double, Double, Expected)])
    func retryDecision(_ failures: [Double], _ giveUpAfter: Double, _ now: Double, _ expected: Expected) {
        var history = RunHistory()
        for hours in failures { history.recordFailure("failed", at: Self.t0.addingTimeInterval(hours * Self.hour)) }
        let decision = history.retry(at: Self.t0.addingTimeInterval(now * Self.hour), giveUpAfter: giveUpAfter * Self.hour)
        switch expected {
        case .now: #expect(decision == .now)
        case .backingOff(let hours): #expect(decision == .backingOff(until: Self.t0.addingTimeInterval(hours * Self.hour)))
        case .givenUp: #expect(decision == .givenUp(since: Self.t0))
        }
    }

    /// --force and a success reset the streak: the next failure starts a new one, with a
    /// one-hour back-off, however long ago the old streak began. The last error stays.
    @Test(arguments: [true, false])
    func forceAndSuccessStartANewStreak(_ viaSuccess: Bool) {
        var history = RunHistory()
        for hours in [0.0, 1, 3, 7, 15, 24] { history.recordFailure("broken", at: Self.t0.addingTimeInterval(hours * Self.hour)) }
        let later = Self.t0.addingTimeInterval(100 * Self.hour)
        #expect(history.retry(at: later, giveUpAfter: 24 * Self.hour) == .givenUp(since: Self.t0))
        if viaSuccess { history.recordSuccess(at: later) } else { history.resetStreak() }
        #expect(history.consecutiveFailures == 0 && history.firstFailure == nil)
        #expect(history.lastError == "broken")
        #expect(history.retry(at: later, giveUpAfter: 24 * Self.hour) == .now)
        history.recordFailure("still broken", at: later)
        #expect(history.firstFailure == later)
        #expect(history.retry(at: later, giveUpAfter: 24 * Self.hour) == .backingOff(until: later.addingTimeInterval(Self.hour)))
    }

    /// A history written before `firstFailure` existed still reads; its last failure stands in
    /// for the streak's start, and the next failure records it.
    @Test func anOldHistoryFileStillReads() throws {
        let directory = try RunHistoryTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: "\(directory)/history", withIntermediateDirectories: true)
        try """
            {
              "consecutiveFailures" : 3,
              "lastAttempt" : "2027-01-15T08:00:00Z",
              "lastError" : "Provider 'lab' failed.",
              "lastFailure" : "2027-01-15T08:00:00Z"
            }
            """.write(toFile: "\(directory)/history/a.json", atomically: true, encoding: .utf8)
        let store = RunHistoryStore(stateDir: directory)
        var history = store.read("a")
        #expect(history == RunHistory(lastAttempt: Self.t0, lastFailure: Self.t0, lastError: "Provider 'lab' failed.", consecutiveFailures: 3))
        #expect(history.retry(at: Self.t0, giveUpAfter: 24 * Self.hour) == .backingOff(until: Self.t0.addingTimeInterval(4 * Self.hour)))
        let next = Self.t0.addingTimeInterval(25 * Self.hour)
        history.recordFailure("again", at: next)
        #expect(history.firstFailure == Self.t0)
        #expect(history.retry(at: next, giveUpAfter: 24 * Self.hour) == .givenUp(since: Self.t0))
        try store.write(history, for: "a")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/history/a.json"))) as? [String: Any])
        #expect(json["firstFailure"] as? String == "2027-01-15T08:00:00Z")
    }

    @Test func theGivenUpSentenceSaysSinceWhenHowOftenWhyAndHowToReset() {
        var history = RunHistory()
        for hours in [0.0, 1, 3, 7, 15, 24] {
            history.recordFailure("Provider 'lab' failed.", at: Self.t0.addingTimeInterval(hours * Self.hour))
        }
        #expect(BatchRun.givenUpMessage(history, since: Self.t0, giveUpAfter: .seconds(86400))
                == "given up: failing since 2027-01-15T08:00:00Z (6 failed attempts, give_up_after 24h), not retried until `dns01 run --force` resets it; last error: Provider 'lab' failed.")
    }

    @Test(arguments: [(Duration.seconds(86400 * 2), "48h"), (.seconds(86400), "24h"), (.seconds(5400), "90m"), (.seconds(45), "45s"),
                      (.zero, "0s"), (.milliseconds(1500), "1.5s")])
    func durationsAreWrittenAsTheConfigWouldBe(_ duration: Duration, _ text: String) {
        #expect(duration.configText == text)
    }

    @Test func giveUpAfterDefaultsToADay() throws {
        let toml = ConfigFixture.text("""
            [[certificate]]
            domains = ["a.test"]
            [[certificate]]
            domains = ["b.test"]
            give_up_after = "6h"
            [[certificate]]
            domains = ["c.test"]
            give_up_after = "0s"
            """)
        let config = try Configuration.parse(toml, path: "test.toml")
        #expect(config.certificates.map(\.giveUpAfter) == [.seconds(86400), .seconds(6 * 3600), .zero])
        #expect { try Configuration.parse(toml.replacingOccurrences(of: "\"6h\"", with: "\"soon\""), path: "test.toml") }
            throws: { "\($0)".contains("key 'give_up_after' is not a duration: 'soon'") }
    }
}
