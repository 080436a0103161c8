import ACME
@testable import DNS01
import Foundation
import ScriptedACME
import ScriptedHTTP
import Settings
import Testing
import TestLab

/// The CA's `rateLimited` answers as a large run meets them: an account-wide refusal stops the
/// new orders (the orders made go on), a per-name one stops only its certificate, and the run
/// history keeps "rate limited until T" apart from the failure streak.
@Suite("rate limits")
struct RateLimitTests {
    typealias World = IssuanceStateMachineTests.World
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func rateLimit(_ result: Result<IssueResult, any Error>) -> RateLimit? {
        guard case .failure(let error) = result else { return nil }
        return (error as? CertificateFailure)?.underlying as? RateLimit
    }

    /// 30 certificates, a CA that refuses new orders after 10: 10 issued, the other 20 rate
    /// limited until the Retry-After, and only one order request after the first refusal.
    @Test func anAccountWideLimitStopsNewOrdersAndTheOrdersMadeGoOn() async throws {
        var options = ScriptedCA.Options()
        options.newOrderLimit = 10
        options.rateLimitRetryAfter = "10800"
        let world = try await World(options: options)
        let before = Date()
        let requests = try (1...30).map { try IssuanceStateMachineTests.request("n\($0)", ["n\($0).a.test"]) }
        let results = try await world.run(requests)
        let issued = results.filter { if case .success = $0 { true } else { false } }.count
        let limited = results.compactMap(Self.rateLimit)
        #expect(issued == 10)
        #expect(limited.count == 20, "\(results.map(IssuanceStateMachineTests.message))")
        #expect(world.ca.issued.count == 10)
        // The refused order is the last one asked for: the 19 after it never reach the CA.
        #expect(world.answers(to: world.ca.newOrderURL).count == 11)
        for limit in limited {
            #expect(limit.isAccountWide)
            #expect(limit.until >= before.addingTimeInterval(10800) && limit.until <= Date().addingTimeInterval(10800))
        }
        let message = IssuanceStateMachineTests.message(results[29])
        #expect(message.hasPrefix("rate limited until "), "\(message)")
        #expect(message.contains("the account's new orders"))
        #expect(message.contains("too many new orders (10)"))
        let warnings = world.events.withLock { $0.compactMap { if case .warning(let text) = $0 { text } else { nil } } }
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("The CA refuses new orders of this account") == true)
    }

    /// A limit on one name (the detail names it) stops only that certificate.
    @Test func aPerNameLimitStopsOnlyThatCertificate() async throws {
        let world = try await World()
        world.ca.transport.once("POST", world.ca.newOrderURL, .problem(
            "rateLimited", detail: "too many certificates (50) already issued for \"b.test\" in the last 168h0m0s",
            status: 429, retryAfter: "86400"))
        let results = try await world.run([try IssuanceStateMachineTests.request("b", ["b.test"]),
                                           try IssuanceStateMachineTests.request("a", ["a.test"]),
                                           try IssuanceStateMachineTests.request("c", ["c.test"])])
        let limit = try #require(Self.rateLimit(results[0]), "\(IssuanceStateMachineTests.message(results[0]))")
        #expect(limit.names == ["b.test"])
        #expect(!limit.isAccountWide)
        guard case .success = results[1], case .success = results[2] else {
            Issue.record("a or c failed: \(results.map(IssuanceStateMachineTests.message))")
            return
        }
        #expect(world.answers(to: world.ca.newOrderURL).count == 3)
    }

    struct Case: Sendable, CustomStringConvertible {
        var error: ACMEError
        var names: [String]?
        var wait: TimeInterval?
        var description: String { error.message }
    }

    static let cases: [Case] = [
        Case(error: ACMEError(.problem, "too many new orders", problem: Problem(type: .rateLimited, detail: "too many new orders (300) from this account"),
                              retryAfter: .seconds(600)), names: [], wait: 600),
        // No Retry-After: the default back-off.
        Case(error: ACMEError(.problem, "limited", problem: Problem(type: .rateLimited, detail: "slow down")), names: [], wait: RateLimit.defaultBackoff),
        Case(error: ACMEError(.problem, "per name", problem: Problem(type: .rateLimited, detail: "too many certificates for \"www.a.test\"")),
             names: ["www.a.test"], wait: RateLimit.defaultBackoff),
        Case(error: ACMEError(.problem, "subproblem", problem: Problem(type: .rateLimited, detail: "limits", subproblems: [
            Problem(type: .rateLimited, identifier: Identifier(type: "dns", value: "a.test"))])), names: ["a.test"], wait: RateLimit.defaultBackoff),
        Case(error: ACMEError(.problem, "other problem", problem: Problem(type: .malformed, detail: "bad")), names: nil, wait: nil),
        Case(error: ACMEError(.network, "no route"), names: nil, wait: nil),
    ]

    @Test(arguments: cases)
    func findsTheLimitAndItsScope(_ test: Case) {
        let found = RateLimit.find(in: CertificateFailure("x", test.error), domains: ["a.test", "www.a.test"], now: Self.t0)
        #expect(found?.names == test.names)
        #expect(found.map { $0.until.timeIntervalSince(Self.t0) } == test.wait)
    }

    /// A rate limit is an attempt, not a failure: the streak, its back-off and give-up stay as
    /// they were, so the certificate is tried at T and not later; a success forgets it.
    @Test func theHistoryHoldsUntilTAndKeepsTheStreakApart() throws {
        var record = RunHistory()
        record.recordFailure("DNS broken", at: Self.t0)
        let until = Self.t0.addingTimeInterval(1800)
        record.recordRateLimit(until: until, message: "rate limited until …", at: Self.t0.addingTimeInterval(600))
        #expect(record.consecutiveFailures == 1)
        #expect(record.retryAt == Self.t0.addingTimeInterval(3600))
        #expect(record.rateLimit(at: until.addingTimeInterval(-1))?.until == until)
        #expect(record.rateLimit(at: until) == nil)
        // Without a streak, a rate limit alone backs nothing off beyond T.
        var fresh = RunHistory()
        fresh.recordRateLimit(until: until, message: "m", at: Self.t0)
        #expect(fresh.consecutiveFailures == 0)
        #expect(fresh.retry(at: until, giveUpAfter: 86400) == .now)
        #expect(fresh.rateLimit(at: until) == nil)
        fresh.recordSuccess(at: Self.t0)
        #expect(fresh.rateLimit(at: Self.t0) == nil)
        // A file from before these fields still reads.
        let old = try JSONDecoder().decode(RunHistory.self, from: Data(#"{"consecutiveFailures":2}"#.utf8))
        #expect(old.rateLimitedUntil == nil)
    }

    @Test func aHeldItemSaysUntilWhen() {
        var item = BatchRun.Item(name: "a", domains: ["a.test"], status: .pending)
        let until = Self.t0.addingTimeInterval(7200)
        item.rateLimited(RateLimit(until: until, names: [], message: "rate limited until 2027-01-15T10:00:00Z (…): too many"), held: true)
        #expect(item.status == .rateLimited)
        #expect(item.reason == "held")
        #expect(item.retryAt == until)
        #expect(item.error?.contains("earlier run") == true)
        #expect(BatchRun.Status.outcomes.contains(.rateLimited))
    }

    @Test(arguments: [("300/3h", 300, 10800), ("1/1s", 1, 1), (" 5 /10m", 5, 600)])
    func maxNewOrdersParses(_ text: String, _ count: Int, _ seconds: Int64) throws {
        let budget = try Configuration.NewOrderBudget.parse(text)
        #expect(budget.count == count && budget.window == .seconds(seconds))
        let config = try Configuration.parse("""
            [acme]
            directory = "https://ca.test/dir"
            state_dir = "/tmp/x"
            max_new_orders = "\(text)"
            """, path: "t.toml")
        #expect(config.acme.maxNewOrders == budget)
    }

    @Test(arguments: ["300", "/3h", "0/3h", "-1/3h", "300/", "300/0s", "300/3x", "3/3h/2", "1000001/1h", "99999999999999999999/1h"])
    func badMaxNewOrdersIsOneSentence(_ text: String) throws {
        let config = """
            [acme]
            directory = "https://ca.test/dir"
            state_dir = "/tmp/x"
            max_new_orders = "\(text)"
            """
        #expect(throws: ConfigError.self) { try Configuration.parse(config, path: "t.toml") }
        do {
            _ = try Configuration.parse(config, path: "t.toml")
        } catch {
            #expect(describe(error) == "[acme]: max_new_orders '\(text)' is not a number of orders (1 to 1000000) per duration, such as \"300/3h\".")
        }
    }

    /// The sliding window: orders leave it one by one, and the place the next run gets is said.
    @Test func theLedgerCountsASlidingWindow() throws {
        let dir = NSTemporaryDirectory() + "dns01-ledger-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let ledger = NewOrderLedger(stateDir: dir, budget: try .parse("3/1h"))
        #expect(ledger.allowance(at: Self.t0).count == 3)
        try ledger.record(2, at: Self.t0)
        try ledger.record(1, at: Self.t0.addingTimeInterval(1200))
        let full = ledger.allowance(at: Self.t0.addingTimeInterval(1800))
        #expect(full.count == 0)
        #expect(full.next == Self.t0.addingTimeInterval(3600))
        // The first two left the window: two places.
        #expect(ledger.allowance(at: Self.t0.addingTimeInterval(3600)).count == 2)
        // A run that uses one of one place: the next frees when the oldest left leaves.
        let one = ledger.allowance(at: Self.t0.addingTimeInterval(3600))
        #expect(one.next == Self.t0.addingTimeInterval(1200 + 3600))
        // A damaged file counts as none.
        try "garbage".write(toFile: ledger.path, atomically: true, encoding: .utf8)
        #expect(ledger.allowance(at: Self.t0).count == 3)
    }
}

/// `[acme] max_new_orders` on a real run against Pebble: the certificates past the budget wait
/// (exit 0, said), the next run in the window makes no order, and one after it takes them.
@Suite("max_new_orders runs", .serialized)
struct MaxNewOrdersRunTests {
    @Test func aBigFirstRunIsSpreadOverRuns() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let config = try lab.writeConfig { text in
            text.replacingOccurrences(of: "[acme]\n", with: "[acme]\nmax_new_orders = \"2/1h\"\n")
                + (1...3).map { "\n[[certificate]]\nname = \"m\($0)\"\ndomains = [\"m\($0).example.test\"]\n" }.joined()
        }
        let first = try await CLIRunner.run(["run", "-c", config])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("m3: rate-limited (left for a later run: max_new_orders 2/1h reached (the next new order may start at "), "\(first.stdout)")
        #expect(first.stdout.contains("2 issued, 0 not due, 0 failed, 1 rate limited in "), "\(first.stdout)")
        #expect(first.stderr.contains("max_new_orders 2/1h: 2 new order(s) in this run, 1 certificate(s) left for a later run"), "\(first.stderr)")
        #expect(first.stderr.contains("2 of 3 certificate(s) due\n") || first.stderr.contains("2 of 3 certificate(s) due\r"), "\(first.stderr)")
        #expect(FileManager.default.fileExists(atPath: "\(lab.directory)/state/live/m1/cert.pem"))
        #expect(!FileManager.default.fileExists(atPath: "\(lab.directory)/state/live/m3/cert.pem"))
        print("max_new_orders first run:\n\(first.stdout)\(first.stderr)")

        let second = try await CLIRunner.run(["run", "-c", config])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("0 issued, 2 not due, 0 failed, 1 rate limited in "), "\(second.stdout)")

        // An hour later (the test clock offset) the window has room again.
        let third = try await CLIRunner.run(["run", "-c", config], environment: ["DNS01_TEST_CLOCK_OFFSET": "3700"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(third.stdout.contains("1 issued, 2 not due, 0 failed in "), "\(third.stdout)")
        #expect(FileManager.default.fileExists(atPath: "\(lab.directory)/state/live/m3/cert.pem"))
    }

    /// The CA's refusal an earlier run recorded holds until T: the run leaves the certificate
    /// rate-limited (exit 1, saying until when), `dns01 certificates` says so, and the first
    /// run after T issues it (no back-off grew from it).
    @Test func aRecordedRefusalHoldsUntilTAndNotLater() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0 + "\n[[certificate]]\nname = \"r1\"\ndomains = [\"r1.example.test\"]\n" }
        let until = Date().addingTimeInterval(1800)
        let stamp = ISO8601DateFormatter().string(from: until)
        try FileManager.default.createDirectory(atPath: "\(lab.directory)/state/history", withIntermediateDirectories: true)
        try #"{"consecutiveFailures":0,"rateLimitedUntil":"\#(stamp)","rateLimitMessage":"rate limited until \#(stamp) (the account's new orders): too many new orders"}"#
            .write(toFile: "\(lab.directory)/state/history/r1.json", atomically: true, encoding: .utf8)
        let held = try await CLIRunner.run(["run", "-c", config])
        #expect(held.status == 1, "\(held.stderr)")
        #expect(held.stdout.contains("r1: rate-limited (rate limited until \(stamp) (the account's new orders): too many new orders (the CA's answer to an earlier run; `dns01 run --force` asks now))"), "\(held.stdout)")
        #expect(held.stderr.contains("1 certificate(s) due but rate limited by the CA until \(stamp) at the latest: r1"), "\(held.stderr)")
        let listed = try await CLIRunner.run(["certificates", "-c", config, "--json"])
        #expect(listed.stdout.contains("rate-limited"), "\(listed.stdout)")
        let after = try await CLIRunner.run(["run", "-c", config], environment: ["DNS01_TEST_CLOCK_OFFSET": "1801"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(after.stdout.contains("r1: issued"), "\(after.stdout)")
    }
}

