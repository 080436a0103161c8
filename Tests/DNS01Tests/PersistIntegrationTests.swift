@testable import DNS01
import Foundation
import Testing
import TestLab

/// Issue 17 item 2: `dns01 persist` against the lab's real BIND primary and lagging secondary
/// (Pebble only for the account), and the lookup the issuer uses to choose dns-persist-01.
@Suite("dns-persist-01 through the CLI", .serialized)
struct PersistIntegrationTests {
    /// Pebble's directory names no caaIdentities, so these tests name the issuer.
    static let issuer = "ca.example.test"

    /// The account URL dns01 registered with the lab's Pebble.
    static func accountURL(_ lab: TestLab) throws -> String {
        let accounts = "\(lab.directory)/state/accounts"
        let host = try #require(try FileManager.default.contentsOfDirectory(atPath: accounts).first)
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(accounts)/\(host)/account.json"))
        let record = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        return try #require(record["url"] as? String)
    }

    /// Entry files in the journal (none: persistent records are never journaled).
    static func journal(_ lab: TestLab) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal")) ?? []
    }

    static func json(_ result: CLIResult) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// A provider that keeps one value per name would replace another CA's record: refused, and
    /// the foreign value stays.
    @Test func aSingleValueProviderDoesNotReplaceAnotherCAsRecord() async throws {
        let foreign = "other-ca.example; accounturi=https://other.example/acct/9"
        let lab = try await TestLab.start(.init(extraRecords: ["example.test": ["_validation-persist.www IN TXT \"\(foreign)\""]]))
        defer { lab.stop() }
        let config = try lab.writeConfig { $0.replacingOccurrences(of: "[[provider]]\n", with: "[[provider]]\nsingle_value = true\n") }
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("single_value = true"))
        let result = try await CLIRunner.run(["persist", "-c", config, "-d", "www.example.test", "--issuer", Self.issuer])
        #expect(result.status == 1)
        #expect(result.stderr.contains("keeps one TXT value per name (single_value = true), and _validation-persist.www.example.test already holds a value of another CA or account"), "stderr: \(result.stderr)")
        #expect(try lab.txtValues("_validation-persist.www.example.test", at: lab.primary) == [foreign])
    }

    @Test func persistSetsListsReplacesAndRemovesOnlyItsOwnValue() async throws {
        let foreign = "other-ca.example; accounturi=https://other.example/acct/9"
        let lab = try await TestLab.start(.init(secondaryLag: 2, extraRecords: ["example.test": [
            "_validation-persist.www IN TXT \"\(foreign)\"",
            "_validation-persist.alias IN CNAME persist-target.example.test.",
        ]]))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let name = "_validation-persist.www.example.test"

        // *.www means www with policy=wildcard; waited for: the lagging secondary serves it as dns01 exits.
        let first = try await CLIRunner.run(["persist", "-c", config, "-d", "*.www.example.test", "--issuer", Self.issuer, "--json"])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        let account = try Self.accountURL(lab)
        let wildcard = "\(Self.issuer); accounturi=\(account); policy=wildcard"
        #expect(try lab.txtValues(name, at: lab.secondary) == [foreign, wildcard].sorted())
        #expect(try lab.txtValues(name, at: lab.primary) == [foreign, wildcard].sorted())
        let written = try #require(try Self.json(first) as? [[String: Any]])
        #expect(written.first?["written"] as? Bool == true)
        #expect(written.first?["value"] as? String == wildcard)
        #expect(Self.journal(lab).isEmpty)

        // --list asks every authoritative server and judges every value.
        let list = try await CLIRunner.run(["persist", "--list", "-c", config, "-d", "www.example.test", "--issuer", Self.issuer, "--json"])
        #expect(list.status == 0, "stderr: \(list.stderr)")
        let listing = try #require(try Self.json(list) as? [String: Any])
        let entry = try #require((listing["names"] as? [[String: Any]])?.first)
        #expect(entry["authorized"] as? Bool == true)
        #expect(entry["authorizedWildcard"] as? Bool == true)
        #expect(entry["consistent"] as? Bool == true)
        #expect((entry["answers"] as? [[String: Any]])?.count == 2)
        let values = try #require(entry["values"] as? [[String: Any]])
        #expect(values.count == 2)
        let other = try #require(values.first { $0["value"] as? String == foreign })
        #expect(other["authorizes"] as? Bool == false)
        #expect((other["verdict"] as? String)?.contains("another CA") == true)
        let text = try await CLIRunner.run(["persist", "--list", "-c", config, "-d", "www.example.test", "--issuer", Self.issuer])
        #expect(text.status == 0)
        #expect(text.stdout.contains("authorizes www.example.test and *.www.example.test"), "stdout: \(text.stdout)")

        // The same again writes nothing.
        let again = try await CLIRunner.run(["persist", "-c", config, "-d", "www.example.test", "--wildcard", "--issuer", Self.issuer, "--json"])
        #expect(again.status == 0, "stderr: \(again.stderr)")
        #expect((try Self.json(again) as? [[String: Any]])?.first?["written"] as? Bool == false)
        #expect(try lab.txtValues(name, at: lab.primary) == [foreign, wildcard].sorted())

        // Another policy replaces this CA and account's older value, once the new one is served.
        let plain = "\(Self.issuer); accounturi=\(account)"
        let narrower = try await CLIRunner.run(["persist", "-c", config, "-d", "www.example.test", "--issuer", Self.issuer])
        #expect(narrower.status == 0, "stderr: \(narrower.stderr)")
        #expect(narrower.stdout.contains("replaced 1 older value(s)"), "stdout: \(narrower.stdout)")
        #expect(try lab.txtValues(name, at: lab.secondary) == [foreign, plain].sorted())

        // The record goes where the CA's resolver finds it: at the end of the CNAME chain.
        let alias = try await CLIRunner.run(["persist", "-c", config, "-d", "alias.example.test", "--issuer", Self.issuer])
        #expect(alias.status == 0, "stderr: \(alias.stderr)")
        #expect(try lab.txtValues("persist-target.example.test", at: lab.secondary) == [plain])

        // --remove takes exactly this CA and account's value away, everywhere; the other CA's stays.
        let remove = try await CLIRunner.run(["persist", "--remove", "-c", config, "-d", "www.example.test", "-d", "alias.example.test",
                                              "--issuer", Self.issuer])
        #expect(remove.status == 0, "stderr: \(remove.stderr)")
        #expect(try lab.txtValues(name, at: lab.secondary) == [foreign])
        #expect(try lab.txtValues(name, at: lab.primary) == [foreign])
        #expect(try lab.txtValues("persist-target.example.test", at: lab.secondary).isEmpty)
        let nothing = try await CLIRunner.run(["persist", "--remove", "-c", config, "-d", "www.example.test", "--issuer", Self.issuer])
        #expect(nothing.status == 0, "stderr: \(nothing.stderr)")
        #expect(nothing.stdout.contains("no record of this CA and account"))
        #expect(Self.journal(lab).isEmpty)
    }

    /// Without --issuer the name comes from the directory's caaIdentities; Pebble lists none.
    @Test func withoutIssuerTheCAMustNameOne() async throws {
        let lab = try await TestLab.start()
        defer { lab.stop() }
        let result = try await CLIRunner.run(["persist", "-c", try lab.writeConfig(), "-d", "www.example.test"])
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.contains("names no issuer domain name") == true)
        #expect(lines.first?.contains("--issuer") == true)
        #expect(try lab.txtValues("_validation-persist.www.example.test", at: lab.primary).isEmpty)
    }

    /// Bad usage is exit 2, before anything is read or sent.
    @Test(arguments: [
        ["-d", "www.example.test", "--until", "2000-01-01"],
        ["-d", "www.example.test", "--until", "soon"],
        ["-d", "www.example.test", "--remove", "--list"],
        ["-d", "www.example.test", "--remove", "--wildcard"],
        ["--list", "--until", "2100-01-01"],
        ["--wildcard"],
        ["-d", "www.example.test", "--issuer", "not a name"],
        ["-d", "www..example.test"],
    ])
    func badUsageExitsTwo(_ arguments: [String]) async throws {
        let result = try await CLIRunner.run(["persist", "-c", "/nonexistent/dns01.toml"] + arguments)
        #expect(result.status == 2, "stdout: \(result.stdout) stderr: \(result.stderr)")
        #expect(!result.stderr.isEmpty)
    }

    /// The issuer's question: which names have a record every authoritative server serves that
    /// lets this CA issue to this account (for a wildcard, with policy=wildcard)?
    @Test func lookupCountsOnlyWhatEveryServerServes() async throws {
        let account = "https://ca.example/acct/1"
        let soon = Int(Date().timeIntervalSince1970) + 60
        func record(_ label: String, _ value: String) -> String { "_validation-persist.\(label) IN TXT \"\(value)\"" }
        let lab = try await TestLab.start(.init(secondaryLag: 30, extraRecords: ["example.test": [
            record("plain", "\(Self.issuer); accounturi=\(account)"),
            record("wild", "\(Self.issuer); accounturi=\(account); policy=wildcard"),
            record("expired", "\(Self.issuer); accounturi=\(account); persistUntil=1000"),
            record("soon", "\(Self.issuer); accounturi=\(account); persistUntil=\(soon)"),
            record("other", "other.example; accounturi=\(account)"),
            record("broken", "\(Self.issuer); accounturi=\(account); persistUntil=never"),
            "_validation-persist.alias IN CNAME persist-target.example.test.",
            "persist-target IN TXT \"\(Self.issuer); accounturi=\(account)\"",
        ]], startPebble: false))
        defer { lab.stop() }
        // No Pebble, so no CA bundle; --list with --issuer needs no CA.
        let path = try lab.writeConfig { $0.split(separator: "\n").filter { !$0.hasPrefix("ca_bundle") }.joined(separator: "\n") }
        let config = try Configuration.load(path: path)

        // Only on the primary: the secondary picks it up 30 s later.
        let deployer = ChallengeDeployer(config: config, events: { _ in })
        let split = ChallengeRecord(target: try await deployer.persistTarget(for: "split.example.test"), value: "\(Self.issuer); accounturi=\(account)")
        try await deployer.presentPersistent([split])
        #expect(try lab.txtValues("_validation-persist.split.example.test", at: lab.primary) == [split.value])

        let lookup = PersistLookup(config: config)
        let asked = ["plain.example.test", "*.plain.example.test", "wild.example.test", "*.wild.example.test", "www.wild.example.test",
                     "expired.example.test", "soon.example.test", "other.example.test", "broken.example.test",
                     "alias.example.test", "split.example.test", "none.example.test"]
        let start = ContinuousClock.now
        let found = await lookup.matching(identifiers: asked, issuerNames: ["authority.example", Self.issuer], accountURL: account)
        let elapsed = ContinuousClock.now - start
        #expect(found == ["plain.example.test", "wild.example.test", "*.wild.example.test", "alias.example.test"])
        #expect(await lookup.matching(identifiers: asked, issuerNames: [Self.issuer], accountURL: account + "0").isEmpty)
        #expect(await lookup.matching(identifiers: asked, issuerNames: ["authority.example"], accountURL: account).isEmpty)
        #expect(try lab.txtValues("_validation-persist.split.example.test", at: lab.secondary).isEmpty,
                "the secondary caught up early, so the split case proved nothing")
        print("persist lookup: \(asked.count) names, 2 servers each, in \(elapsed)")

        // --list shows the disagreement (and needs no account to do it).
        let list = try await CLIRunner.run(["persist", "--list", "-c", path, "-d", "split.example.test", "--issuer", Self.issuer, "--json"])
        #expect(list.status == 0, "stderr: \(list.stderr)")
        let entry = try #require(((try Self.json(list) as? [String: Any])?["names"] as? [[String: Any]])?.first)
        #expect(entry["consistent"] as? Bool == false)
        #expect(entry["authorized"] as? Bool == false)
        let text = try await CLIRunner.run(["persist", "--list", "-c", path, "-d", "split.example.test", "-d", "broken.example.test",
                                            "--issuer", Self.issuer])
        #expect(text.stdout.contains("servers disagree"), "stdout: \(text.stdout)")
        #expect(text.stdout.contains("malformed: persistUntil 'never' is not a base-10 integer"), "stdout: \(text.stdout)")
        #expect(text.stdout.contains("account none registered yet"), "stdout: \(text.stdout)")
    }
}
