import Foundation
import Testing
import TestLab
@testable import DNS01

/// Issue 27 item 1: `dns01 issue` records what it issued, and `dns01 run` renews it like a
/// configured [[certificate]] (as certbot renews from renewal/NAME.conf); `--no-renew` opts out;
/// a [[certificate]] of the same name wins, with a warning; `dns01 certificates` says where
/// each certificate comes from. Through the real Pebble and BIND; "later" is `RenewalClock`'s
/// test offset.
@Suite("dns01 issue records for dns01 run", .serialized)
struct IssuedRenewalTests {
    /// The environment of a `dns01 run` `hours` later (its renewal decisions only: Pebble and
    /// BIND keep the real time).
    static func later(hours: Int) -> [String: String] {
        [RenewalClock.offsetVariable: String(hours * 3600)]
    }

    static func serial(_ path: String) throws -> String {
        try runProcess("/usr/bin/openssl", ["x509", "-noout", "-serial", "-in", path]).stdout
    }

    @Test
    func issueThenRunRenewsItUnlessNoRenew() async throws {
        // Two-day certificates: due with half their lifetime left, a day after issuance.
        let lab = try await TestLab.start(.init(zones: ["example.test"], secondaryLag: 0,
                                                pebbleConfigExtra: ["certificateValidityPeriod": "172800"]))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let state = "\(lab.directory)/state"

        let hand = try await CLIRunner.run(["issue", "-c", config, "-d", "*.hand.example.test", "-d", "hand.example.test"])
        #expect(hand.status == 0, "\(hand.stderr)")
        #expect(hand.stdout.contains("dns01 run will renew it (recorded in \(state)/issued/hand.example.test.json; --no-renew to opt out)."), "\(hand.stdout)")
        let recordPath = "\(state)/issued/hand.example.test.json"
        #expect((try FileManager.default.attributesOfItem(atPath: recordPath)[.posixPermissions] as? Int) == 0o600)
        let record = try RunHistoryStore.decoder.decode(IssuedRecord.self, from: Data(contentsOf: URL(fileURLWithPath: recordPath)))
        #expect(record.domains == ["*.hand.example.test", "hand.example.test"] && record.keyType == .ec256 && record.provider == nil)

        let alone = try await CLIRunner.run(["issue", "-c", config, "-d", "alone.example.test", "--key-type", "rsa2048", "--no-renew"])
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(alone.stdout.contains("dns01 run will not renew it (--no-renew)."), "\(alone.stdout)")
        #expect(!FileManager.default.fileExists(atPath: "\(state)/issued/alone.example.test.json"))

        let clash = try await CLIRunner.run(["issue", "-c", config, "-d", "clash.example.test", "--key-type", "ec384", "--provider", "lab"])
        #expect(clash.status == 0, "\(clash.stderr)")

        // Now: nothing is due, but both records are in the run (the config has no [[certificate]]).
        let now = try await CLIRunner.run(["run", "-c", config])
        #expect(now.status == 0, "\(now.stderr)")
        #expect(now.stdout.contains("0 issued, 2 not due, 0 failed"), "\(now.stdout)")

        // A config naming "clash" itself wins over the record, with a warning.
        let withEntry = try lab.writeConfig("entry.toml") { $0 + "\n[[certificate]]\nname = \"clash.example.test\"\ndomains = [\"clash.example.test\"]\n" }
        let clashing = try await CLIRunner.run(["run", "-c", withEntry, "--json"])
        #expect(clashing.status == 0, "\(clashing.stderr)")
        #expect(clashing.stderr.contains("Certificate 'clash.example.test' is both a [[certificate]] in \(withEntry) and recorded by `dns01 issue` in \(state)/issued/clash.example.test.json: dns01 run follows the config"), "\(clashing.stderr)")

        // A day and a half later (dns01's clock only): the recorded ones are renewed as they
        // were issued; the --no-renew one is left alone.
        let serials = try ["hand.example.test", "alone.example.test", "clash.example.test"].map { try Self.serial("\(state)/live/\($0)/cert.pem") }
        let later = try await CLIRunner.run(["run", "-c", config], environment: Self.later(hours: 36))
        #expect(later.status == 0, "\(later.stderr)")
        #expect(later.stdout.contains("*.hand.example.test: issued (expiring)") || later.stdout.contains("hand.example.test: issued (expiring)"), "\(later.stdout)")
        #expect(later.stdout.contains("clash.example.test: issued (expiring)"), "\(later.stdout)")
        #expect(!later.stdout.contains("alone"), "\(later.stdout)")
        #expect(later.stdout.contains("2 issued, 0 not due, 0 failed"), "\(later.stdout)")
        #expect(try Self.serial("\(state)/live/hand.example.test/cert.pem") != serials[0])
        #expect(try Self.serial("\(state)/live/alone.example.test/cert.pem") == serials[1])
        #expect(try Self.serial("\(state)/live/clash.example.test/cert.pem") != serials[2])
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(state)/live/hand.example.test/cert.pem") == ["*.hand.example.test", "hand.example.test"])
        let clashKey = try runProcess("/usr/bin/openssl", ["x509", "-noout", "-text", "-in", "\(state)/live/clash.example.test/cert.pem"]).stdout
        #expect(clashKey.contains("384 bit"), "renewed with its recorded key type")

        // `dns01 certificates` says where each comes from.
        let report = try await CLIRunner.run(["certificates", "-c", config, "--json"])
        #expect(report.status == 0, "\(report.stderr)")
        let entries = try #require((try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])?["certificates"] as? [[String: Any]])
        let sources = Dictionary(uniqueKeysWithValues: entries.map { ($0["name"] as? String ?? "", $0["source"] as? String ?? "") })
        #expect(sources == ["hand.example.test": "issued", "clash.example.test": "issued", "alone.example.test": "live"], "\(sources)")
        #expect(entries.first { $0["name"] as? String == "hand.example.test" }?["issuedAt"] as? String != nil)
        let table = try await CLIRunner.run(["certificates", "-c", withEntry])
        #expect(table.status == 0, "\(table.stderr)")
        let today = CertificatesCommandDay.today
        #expect(table.stdout.contains("source: issued by hand on \(today)"), "\(table.stdout)")
        #expect(table.stdout.contains("source: config"), "\(table.stdout)")
        #expect(table.stdout.contains("not in the config (found in live/): dns01 run leaves it alone"), "\(table.stdout)")
        #expect(table.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(table.stdout)")

        // --no-renew on an issued one forgets its record.
        let forget = try await CLIRunner.run(["issue", "-c", config, "-d", "*.hand.example.test", "-d", "hand.example.test", "--no-renew"])
        #expect(forget.status == 0, "\(forget.stderr)")
        #expect(!FileManager.default.fileExists(atPath: recordPath))
    }

    /// A record naming a provider the config no longer has fails that certificate with a
    /// sentence (before any CA is asked), not a lookup of a provider that is not there.
    @Test func aRecordsProviderThatIsGoneFailsItsCertificate() async throws {
        try await BadInputTests.withTempConfig(BadInputTests.unreachableCAConfig) { config in
            let state = (config as NSString).deletingLastPathComponent + "/state"
            try IssuedRecordStore(stateDir: state).write(IssuedRecord(name: "gone", domains: ["gone.example.test"], keyType: .ec256,
                                                                      provider: "old", issuedAt: Date()))
            let result = try await CLIRunner.run(["run", "-c", config])
            #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("gone: failed (Provider 'old', which `dns01 issue` used for it, is not a configured [[provider]] any more (issue it again with another --provider).)"), "\(result.stdout)")
            #expect(!result.stderr.contains("Cannot reach the CA"), "\(result.stderr)")
        }
    }

    /// The test offset: whole seconds within ten years, anything else ignored.
    @Test(arguments: [("3600", 3600.0), ("-86400", -86400.0), ("1.5", 0), ("abc", 0), ("999999999999", 0), ("", 0)] as [(String, Double)])
    func renewalClockOffset(_ text: String, _ seconds: Double) {
        let before = Date()
        let moved = RenewalClock.now(environment: [RenewalClock.offsetVariable: text]).timeIntervalSince(before)
        #expect(abs(moved - seconds) < 5, "\(text): \(moved)")
    }

    /// A damaged record is a warning naming its file; the other records still run.
    @Test func damagedRecordIsNamedAndSkipped() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("issued-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = IssuedRecordStore(stateDir: directory)
        try store.write(IssuedRecord(name: "good", domains: ["good.example.test"], keyType: .ec256, issuedAt: Date()))
        try FileManager.default.createDirectory(atPath: store.directory, withIntermediateDirectories: true)
        try "{\"name\": \"bad\"".write(toFile: store.path("bad"), atomically: true, encoding: .utf8)
        try "{\"name\":\"other\",\"domains\":[\"x.example.test\"],\"keyType\":\"ec256\",\"issuedAt\":\"2026-01-01T00:00:00Z\"}"
            .write(toFile: store.path("renamed"), atomically: true, encoding: .utf8)
        let config = try Configuration.parse(ConfigFixture.header.replacingOccurrences(of: "/tmp/dns01-unused", with: directory), path: "test.toml")
        let (merged, warnings) = config.addingIssuedRecords()
        #expect(merged.certificates.map(\.name) == ["good"])
        #expect(merged.certificates.first?.issuedByHand != nil)
        #expect(warnings.count == 2, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("\(store.path("bad")) is not a record of `dns01 issue`") }, "\(warnings)")
        #expect(warnings.contains { $0.hasPrefix("\(store.path("renamed")) names certificate 'other'") }, "\(warnings)")
    }
}

/// Today's date as `dns01 certificates` prints it (UTC).
enum CertificatesCommandDay {
    static var today: String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: Date())
        func two(_ value: Int?) -> String { (value ?? 0) < 10 ? "0\(value ?? 0)" : "\(value ?? 0)" }
        return "\(parts.year ?? 0)-\(two(parts.month))-\(two(parts.day))"
    }
}
