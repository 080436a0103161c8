import ACME
import Foundation
import Testing
import TestLab
@testable import DNS01

/// Issue 28 item 2: Debian's real `lego --dns exec` against Pebble with dns01 as its program
/// (hooks/lego), in lego's default form and in EXEC_MODE=RAW. lego's own propagation check is
/// off (`--dns.disable-cp`), and the secondary Pebble validates at lags behind the primary: the
/// certificates come only because `present` returned once every nameserver served the value.
@Suite("lego exec hook", .serialized)
struct LegoHookTests {
    static let lego = "/usr/bin/lego"

    /// lego with the exec provider running `hook`; `extra` environment on top.
    static func lego(_ lab: TestLab, config: String, hook: String, path: String, names: [String], extra: [String: String] = [:]) async throws -> CLIResult {
        var env = ProcessInfo.processInfo.environment
        env["DNS01"] = CLIRunner.executable
        env["DNS01_CONFIG"] = config
        env["LEGO_CA_CERTIFICATES"] = lab.pebbleCAFile
        env["EXEC_PATH"] = hook
        env["EXEC_SEQUENCE_INTERVAL"] = "1"
        env["EXEC_POLLING_INTERVAL"] = "1"
        env["EXEC_PROPAGATION_TIMEOUT"] = "30"
        for (key, value) in extra { env[key] = value }
        return try await ClientHookTests.run(lego, ["--server", lab.pebbleDirectory, "--email", "admin@example.test", "--accept-tos",
                                                    "--path", path, "--dns", "exec", "--dns.disable-cp", "--dns.resolvers", lab.primary]
                                                    + names.flatMap { ["-d", $0] } + ["run"], environment: env)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: lego), "lego is not installed (apt-get install lego)"),
          arguments: [("default", "3"), ("RAW", "5")])
    func wildcardAndApexThroughLegosExecProvider(mode: String, argumentCount: String) async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 2, pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"]))
        defer { lab.stop() }
        let config = try ClientHookTests.hookConfig(lab)
        let (hook, log) = try ClientHookTests.loggingHook(lab, shim: "lego")
        let path = "\(lab.directory)/lego"
        let result = try await Self.lego(lab, config: config, hook: hook, path: path, names: ["*.example.test", "example.test"],
                                         extra: mode == "RAW" ? ["EXEC_MODE": "RAW"] : [:])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(path)/certificates/_.example.test.crt") == ["*.example.test", "example.test"])
        // One present and one cleanup per authorization, in the form of the mode.
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map { String($0) }
        let first = mode == "RAW" ? "--" : "_acme-challenge.example.test."
        #expect(calls.filter { $0 == "present \(argumentCount) \(first)" }.count == 2, "\(calls)")
        #expect(calls.filter { $0 == "cleanup \(argumentCount) \(first)" }.count == 2, "\(calls)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        #expect(JournalIntegrationTests.journalEntries(lab).isEmpty)
    }

    static let value = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

    @Test func parsesBothForms() throws {
        #expect(try LegoHook.parse(["present", "_acme-challenge.Example.Test.", Self.value])
                == .present(.init(name: "_acme-challenge.example.test", domain: "example.test", value: Self.value)))
        #expect(try LegoHook.parse(["cleanup", "_acme-challenge.example.test.", Self.value])
                == .cleanup(.init(name: "_acme-challenge.example.test", domain: "example.test", value: Self.value)))
        // RAW: dns01 makes the value from the key authorization (RFC 8555 §8.4), with or without "--".
        let keyAuthorization = "tok-EN_1.thumbprint_-x"
        let expected = LegoHook.Record(name: nil, domain: "*.example.test", value: KeyAuthorization.dns01Value(token: "tok-EN_1", thumbprint: "thumbprint_-x"))
        #expect(try LegoHook.parse(["present", "--", "*.example.test", "tok-EN_1", keyAuthorization]) == .present(expected))
        #expect(try LegoHook.parse(["cleanup", "*.example.test", "tok-EN_1", keyAuthorization]) == .cleanup(expected))
    }

    @Test(arguments: [
        (["timeout"], "present or cleanup first"),
        ([String](), "got nothing"),
        (["present", "_acme-challenge.example.test."], "not 1 argument"),
        (["present", "_acme-challenge.example.test.", "short"], "not a dns-01 value"),
        (["present", "bad name!.", Self.value], "record name lego's present gave is not usable"),
        (["present", "--", "example.test", "tok", "other.thumb"], "is not its token followed by '.'"),
        (["present", "--", "example.test", "tok", "tok.thumb print"], "is not its token followed by '.'"),
        (["cleanup", "--", "a", "b", "c", "d"], "not 4 argument"),
    ])
    func badCallsAreOneSentence(_ arguments: [String], _ expected: String) {
        #expect { try LegoHook.parse(arguments) } throws: { "\($0)".contains(expected) }
    }
}
