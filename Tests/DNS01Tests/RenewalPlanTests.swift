@testable import DNS01
import Foundation
import Testing

/// When a live certificate falls due without ARI: by its lifetime, or by `renew_before` when set.
@Suite("renewal policy")
struct RenewalPlanTests {
    static let day: TimeInterval = 86400

    /// (lifetime in days, renew_before in days or nil, days before notAfter it falls due).
    @Test(arguments: [
        (90.0, nil, 30.0), (45, nil, 15), (6, nil, 3), (9, nil, 4.5), (10, nil, 10.0 / 3), (1, nil, 0.5),
        (90, 30, 30), (6, 1, 1), (45, 60, 60),
    ] as [(Double, Double?, Double)])
    func dueTimeByLifetime(_ lifetime: Double, _ renewBefore: Double?, _ daysAhead: Double) {
        let notAfter = Date(timeIntervalSince1970: 1_800_000_000)
        let notBefore = notAfter.addingTimeInterval(-lifetime * Self.day)
        let due = RenewalPlan.renewalTime(notBefore: notBefore, notAfter: notAfter,
                                          renewBefore: renewBefore.map { .seconds($0 * Self.day) })
        #expect(abs(notAfter.timeIntervalSince(due) - daysAhead * Self.day) < 0.001)
    }

    @Test func aCertificateNeverValidIsDueAtOnce() {
        let date = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(RenewalPlan.renewalTime(notBefore: date, notAfter: date, renewBefore: nil) == .distantPast)
        #expect(RenewalPlan.renewalTime(notBefore: date, notAfter: date.addingTimeInterval(-1), renewBefore: nil) == .distantPast)
    }

    /// A state directory holding one self-signed certificate for a.test, valid `days` days from
    /// now, made by openssl (not by dns01's own code).
    static func store(days: Int) async throws -> (store: CertificateStore, directory: String) {
        let directory = NSTemporaryDirectory() + "dns01-plan-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let made = try runProcess("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(directory)/key.pem",
            "-subj", "/CN=a.test", "-addext", "subjectAltName=DNS:a.test", "-days", "\(days)",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        let store = CertificateStore(stateDir: directory)
        try await store.save(name: "a", privateKeyPEM: nil, chainPEM: made.stdout)
        return (store, directory)
    }

    static func spec(renewBefore: Duration? = nil) -> Configuration.CertificateSpec {
        Configuration.CertificateSpec(name: "a", domains: ["a.test"], keyType: .ec256, provider: nil, deployHook: nil,
                                      renewBefore: renewBefore, profile: nil)
    }

    /// A 6-day certificate (the `shortlived` profile) and a 45-day one are not due on the next
    /// timer run; each falls due once a half or a third of its lifetime remains.
    @Test(arguments: [(6, 3.0), (45, 15.0), (90, 30.0)])
    func storedCertificateFallsDueByItsLifetime(_ days: Int, _ daysAhead: Double) async throws {
        let (store, directory) = try await Self.store(days: days)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = RenewalPlan.decide([Self.spec()], store: store, force: false, now: Date())
        let notAfter = try #require(first.first?.notAfter)
        #expect(first.first?.reason == nil)
        let dueAt = notAfter.addingTimeInterval(-daysAhead * Self.day)
        #expect(first.first?.renewAt == dueAt)
        let before = RenewalPlan.decide([Self.spec()], store: store, force: false, now: dueAt.addingTimeInterval(-60))
        #expect(before.first?.reason == nil)
        let after = RenewalPlan.decide([Self.spec()], store: store, force: false, now: dueAt.addingTimeInterval(60))
        #expect(after.first?.reason == .expiring)
    }

    @Test func anExplicitRenewBeforeWins() async throws {
        let (store, directory) = try await Self.store(days: 45)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let spec = Self.spec(renewBefore: .seconds(86400))
        let notAfter = try #require(RenewalPlan.decide([spec], store: store, force: false, now: Date()).first?.notAfter)
        #expect(RenewalPlan.decide([spec], store: store, force: false, now: notAfter.addingTimeInterval(-2 * Self.day)).first?.reason == nil)
        #expect(RenewalPlan.decide([spec], store: store, force: false, now: notAfter.addingTimeInterval(-0.5 * Self.day)).first?.reason == .expiring)
        #expect(RenewalPlan.decide([spec], store: store, force: true, now: Date()).first?.reason == .forced)
    }

    @Test func renewBeforeIsUnsetUnlessGiven() throws {
        let toml = ConfigFixture.text("""
            [[certificate]]
            domains = ["a.test"]
            [[certificate]]
            domains = ["b.test"]
            renew_before = "2d"
            """)
        let config = try Configuration.parse(toml, path: "test.toml")
        #expect(config.certificates.map(\.renewBefore) == [nil, .seconds(2 * 86400)])
    }
}
