import DNS01
import Foundation
import Testing
import TestLab

/// Issue 2: a wildcard and its apex issued end to end through the real Pebble and BIND, the
/// secondary (the server Pebble asks) lagging behind the primary (the server dns01 updates).
@Suite("issue through Pebble and BIND", .serialized)
struct IssueIntegrationTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var lag: Int
        var nonceReject: String?
        var testDescription: String { "lag \(lag)s, nonce rejection \(nonceReject ?? "default 5")%" }
    }

    @Test(arguments: [
        Case(lag: 5, nonceReject: nil),
        Case(lag: 1, nonceReject: "50"),
    ])
    func wildcardAndApex(_ scenario: Case) async throws {
        var options = TestLab.Options(secondaryLag: scenario.lag)
        if let reject = scenario.nonceReject { options.pebbleEnv["PEBBLE_WFE_NONCEREJECT"] = reject }
        let lab = try await TestLab.start(options)
        defer { lab.stop() }
        let config = try lab.writeConfig()

        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")

        let live = "\(lab.directory)/state/live/example.test"
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem") == ["*.example.test", "example.test"])
        for file in ["privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"] {
            #expect(FileManager.default.fileExists(atPath: "\(live)/\(file)"), "\(file) missing")
        }
        let keyMode = try FileManager.default.attributesOfItem(atPath: "\(live)/privkey.pem")[.posixPermissions] as? Int
        #expect(keyMode == 0o600)
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        // The wait was at the lagging secondary: the run cannot be shorter than its lag.
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        let seconds = try #require(summary?["seconds"] as? Double)
        #expect(seconds >= Double(scenario.lag) - 0.5)
    }

    @Test func secondRunReusesTheAccountAndValidAuthorizations() async throws {
        // Pebble reuses a valid authorization of the same account every time here.
        let lab = try await TestLab.start(.init(secondaryLag: 0, pebbleEnv: ["PEBBLE_AUTHZREUSE": "100"]))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let first = try await CLIRunner.run(["issue", "-c", config, "-d", "a.example.test"])
        #expect(first.status == 0, "stderr: \(first.stderr)")
        let accountFiles = try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/accounts")
        #expect(accountFiles.count == 1)
        let keyPath = "\(lab.directory)/state/accounts/\(accountFiles[0])/account.key"
        let keyBefore = try String(contentsOfFile: keyPath, encoding: .utf8)
        let second = try await CLIRunner.run(["issue", "-c", config, "-d", "a.example.test", "-d", "b.example.test", "--cert-name", "ab"])
        #expect(second.status == 0, "stderr: \(second.stderr)")
        // a.example.test is already authorized: only b's record is written.
        #expect(second.stderr.contains("1 authorization(s) already valid at the CA"), "\(second.stderr)")
        #expect(second.stderr.contains("presented 1 record(s)"), "\(second.stderr)")
        #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == keyBefore)
        let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/ab/cert.pem") == ["a.example.test", "b.example.test"])

        // Issued again: a new version in archive/, live/ points at it, the old one is kept whole.
        let live = "\(lab.directory)/state/live/a.example.test"
        let oldKey = try String(contentsOfFile: "\(live)/privkey.pem", encoding: .utf8)
        let third = try await CLIRunner.run(["issue", "-c", config, "-d", "a.example.test"])
        #expect(third.status == 0, "stderr: \(third.stderr)")
        let archive = "\(lab.directory)/state/archive/a.example.test"
        #expect(try FileManager.default.contentsOfDirectory(atPath: archive).sorted() == ["0001", "0002"])
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/a.example.test/0002")
        #expect(try String(contentsOfFile: "\(archive)/0001/privkey.pem", encoding: .utf8) == oldKey)
        #expect(try String(contentsOfFile: "\(live)/privkey.pem", encoding: .utf8) != oldKey)
        for file in ["privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"] {
            #expect(FileManager.default.fileExists(atPath: "\(archive)/0001/\(file)"), "\(file)")
        }
        let newKeyMode = try FileManager.default.attributesOfItem(atPath: "\(archive)/0002/privkey.pem")[.posixPermissions] as? Int
        #expect(newKeyMode == 0o600)
    }
}
