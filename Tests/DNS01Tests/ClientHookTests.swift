import Foundation
import Testing
import TestLab
@testable import DNS01

/// Issue 18: Debian's real dehydrated and uacme, against Pebble, with dns01 as their hook
/// (hooks/dehydrated, hooks/uacme). The config names no CA: hook modes need none.
@Suite("dehydrated and uacme hooks", .serialized)
struct ClientHookTests {
    static let repository = CertbotHookTests.repository

    /// The lab config without a CA: `[acme]` keeps only `state_dir` (hook modes need no
    /// directory, account or CA bundle).
    static func hookConfig(_ lab: TestLab) throws -> String {
        try DNSOnlyConfigTests.config(lab)
    }

    /// A HOOK that logs each call's event, argument count and first argument, then runs `shim`.
    static func loggingHook(_ lab: TestLab, shim: String) throws -> (hook: String, log: String) {
        let hook = "\(lab.directory)/logging-\(shim)", log = "\(lab.directory)/\(shim)-calls.log"
        try """
        #!/bin/sh
        echo "$1 $# $2" >> '\(log)'
        exec '\(repository)/hooks/\(shim)' "$@"
        """.write(toFile: hook, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: hook)
        return (hook, log)
    }

    /// Runs a program off the cooperative pool.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]) async throws -> CLIResult {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runProcess(executable, arguments, environment: environment) })
            }
        }
    }

    func serial(_ lab: TestLab) throws -> Int {
        let parts = lab.primary.split(separator: ":")
        let result = try runProcess("/usr/bin/dig", ["+short", "-p", String(parts[1]), "@\(parts[0])", "example.test", "SOA"])
        return try #require(result.stdout.split(separator: " ").dropFirst(2).first.flatMap { Int($0) }, "dig: \(result.stdout)\(result.stderr)")
    }

    @Test func dehydratedHookChainSixNamesOnePresentationOneWait() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 5, pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"]))
        defer { lab.stop() }
        let config = try Self.hookConfig(lab)
        let base = "\(lab.directory)/dehydrated"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let (hook, log) = try Self.loggingHook(lab, shim: "dehydrated")
        let names = ["example.test", "*.example.test", "a.example.test", "b.example.test", "c.example.test", "d.example.test"]
        try (names.joined(separator: " ") + "\n").write(toFile: "\(base)/domains.txt", atomically: true, encoding: .utf8)
        let env = try await Self.registeredDehydrated(lab, base: base, hook: hook, hookChain: "yes", config: config)
        let before = try serial(lab)
        let issue = try await Self.run("/usr/bin/dehydrated", ["-f", "\(base)/config", "-c"], environment: env)
        #expect(issue.status == 0, "\(issue.stdout)\(issue.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(base)/certs/example.test/cert.pem") == names.sorted())
        // One deploy_challenge with all six (domain, token file, value) triples: one
        // presentation (one UPDATE: the serial moves once for it and once for the cleanup) and
        // one wait, inside that single hook process.
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(calls.filter { $0.hasPrefix("deploy_challenge ") }.map { $0.split(separator: " ")[1] } == ["19"], "\(calls)")
        #expect(calls.filter { $0.hasPrefix("clean_challenge ") }.map { $0.split(separator: " ")[1] } == ["19"], "\(calls)")
        #expect(try serial(lab) == before + 2)
        // Other events (startup_hook, deploy_cert, exit_hook, ...) reached the hook and were ignored.
        #expect(calls.contains { $0.hasPrefix("deploy_cert ") })
        #expect(try lab.leftoverChallengeValues(names).isEmpty)
        #expect(JournalIntegrationTests.journalEntries(lab).isEmpty)
    }

    /// dehydrated deploys every challenge before it asks the CA to validate any (with
    /// HOOK_CHAIN=yes all in one deploy_challenge call, without it one call each), so a
    /// wildcard and its apex through a provider that keeps one TXT value per name cannot be
    /// validated one after the other: the hook refuses the call that would need the second
    /// value, naming single_value and what to do, and writes nothing for it. (With HOOK_CHAIN
    /// it used to present both, the second replacing the first, and wait the whole
    /// propagation_timeout for the first; without, the CA found the wrong value.)
    @Test(arguments: ["yes", "no"])
    func dehydratedThroughASingleValueProviderIsRefusedAtOnce(hookChain: String) async throws {
        let lab = try await TestLab.start(.init(pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"]))
        defer { lab.stop() }
        // A provider that really keeps one value per name: present replaces the TXT set.
        let script = "\(lab.directory)/one-value"
        try #"""
        #!/bin/bash
        set -e
        if [[ $1 == present ]]; then
          printf 'server %s %s\nupdate delete %s TXT\nupdate add %s 60 TXT "%s"\nsend\n' "${SERVER%:*}" "${SERVER##*:}" "$2" "$2" "$3"
        else
          printf 'server %s %s\nupdate delete %s TXT "%s"\nsend\n' "${SERVER%:*}" "${SERVER##*:}" "$2" "$3"
        fi | nsupdate -k "$KEY"
        """#.write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let config = try lab.writeConfig("one-value.toml") { text in
            text.components(separatedBy: "\n").filter {
                !($0.hasPrefix("directory") || $0.hasPrefix("ca_bundle") || $0.hasPrefix("email") || $0.hasPrefix("agree_tos")
                  || $0.hasPrefix("server =") || $0.hasPrefix("tsig_key_file ="))
            }.joined(separator: "\n")
                .replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"15s\"")
                .replacingOccurrences(of: "type = \"rfc2136\"", with: """
                    type = "shell"
                    single_value = true
                    command = "\(script)"
                    env = { SERVER = "\(lab.primary)", KEY = "\(lab.tsigKeyFile)" }
                    """)
        }
        // `KEY` in an env table counts as a secret (hardening item 3): the config is its owner's alone.
        chmod(config, 0o600)
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("single_value = true\ncommand"))
        let base = "\(lab.directory)/dehydrated"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        try "example.test *.example.test\n".write(toFile: "\(base)/domains.txt", atomically: true, encoding: .utf8)
        let env = try await Self.registeredDehydrated(lab, base: base, hook: "\(Self.repository)/hooks/dehydrated",
                                                      hookChain: hookChain, config: config)
        let issue = try await Self.run("/usr/bin/dehydrated", ["-f", "\(base)/config", "-c"], environment: env)
        let output = issue.stdout + issue.stderr
        #expect(issue.status != 0, "\(output)")
        #expect(output.contains("Provider 'lab' keeps one TXT value per name (single_value = true), but dehydrated needs 2 values at _acme-challenge.example.test at once (for example.test and its wildcard)"), "\(output)")
        #expect(output.contains("put these names in separate certificates"), "\(output)")
        #expect(!output.contains("Timed out waiting"), "no propagation wait: \(output)")
        #expect(!FileManager.default.fileExists(atPath: "\(base)/certs/example.test/cert.pem"))
        if hookChain == "no" {
            // The first call's record stays while dehydrated runs; dehydrated exits on the
            // refusal without clean_challenge, so the next dns01 command removes it.
            let check = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test"])
            #expect(check.status == 0, "\(check.stderr)")
        }
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        #expect(JournalIntegrationTests.journalEntries(lab).isEmpty)
    }

    @Test func uacmeWildcardAndApexOneWaitPerAuthorization() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 2, pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"]))
        defer { lab.stop() }
        let config = try Self.hookConfig(lab)
        let confdir = "\(lab.directory)/uacme"
        let (hook, log) = try Self.loggingHook(lab, shim: "uacme")
        // uacme's libcurl (GnuTLS) trusts only the system bundle: uacme runs in a mount
        // namespace where that file is the system's plus Pebble's CA.
        let bundle = "\(lab.directory)/ca-bundle.crt"
        try (try String(contentsOfFile: "/etc/ssl/certs/ca-certificates.crt", encoding: .utf8)
             + (try String(contentsOfFile: lab.pebbleCAFile, encoding: .utf8))).write(toFile: bundle, atomically: true, encoding: .utf8)
        func uacme(_ arguments: [String]) async throws -> CLIResult {
            var env = ProcessInfo.processInfo.environment
            env["DNS01"] = CLIRunner.executable
            env["DNS01_CONFIG"] = config
            return try await Self.run("/usr/bin/unshare", [
                "-m", "sh", "-c", "mount --bind \"$0\" /etc/ssl/certs/ca-certificates.crt && exec /usr/bin/uacme \"$@\"",
                bundle, "-v", "-a", lab.pebbleDirectory, "-c", confdir, "-t", "EC",
            ] + arguments, environment: env)
        }
        let new = try await uacme(["-y", "new"])
        #expect(new.status == 0, "\(new.stdout)\(new.stderr)")
        let issue = try await uacme(["-h", hook, "issue", "example.test", "*.example.test"])
        #expect(issue.status == 0, "\(issue.stdout)\(issue.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(confdir)/example.test/cert.pem") == ["*.example.test", "example.test"])
        // Both authorizations name example.test (a wildcard's identifier has no "*."), each
        // with its own value: begin and done once each for dns-01; other types were declined.
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(calls.filter { $0 == "begin 5 dns-01" }.count == 2, "\(calls)")
        #expect(calls.filter { $0 == "done 5 dns-01" }.count == 2, "\(calls)")
        #expect(!calls.contains { $0.hasPrefix("failed") || (!$0.hasSuffix(" dns-01") && !$0.hasPrefix("begin ")) }, "\(calls)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
        #expect(JournalIntegrationTests.journalEntries(lab).isEmpty)
    }

    @Test(arguments: [
        (["deploy_challenge", "a.example.test", "tok"], "argument"),
        (["deploy_challenge", "a.example.test", "tok", "not-a-value"], "not a dns-01 value"),
        ([String](), "No hook event"),
    ])
    func dehydratedBadArgumentsAreRefused(arguments: [String], expected: String) throws {
        #expect { try DehydratedHook.Call(arguments: arguments) } throws: { "\($0)".contains(expected) }
    }

    @Test func dehydratedParsesTriplesAndIgnoresOtherEvents() throws {
        let value = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
        let call = try DehydratedHook.Call(arguments: ["clean_challenge", "A.Example.Test", "t1", value, "example.test", "t2", value])
        guard case .clean(let challenges) = call else { Issue.record("\(call)"); return }
        #expect(challenges.map(\.domain) == ["a.example.test", "example.test"])
        #expect(try DehydratedHook.Call(arguments: ["deploy_cert", "x", "y"]) == .ignored("deploy_cert"))
        #expect(try DehydratedHook.Call(arguments: ["this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_hooks_in_your_script"])
                == .ignored("this_hookscript_is_broken__dehydrated_is_working_fine__please_ignore_unknown_hooks_in_your_script"))
    }

    @Test func uacmeDeclinesOtherTypesAndRefusesBadCalls() async throws {
        #expect(try UacmeHook.Call(arguments: ["begin", "http-01", "example.test", "tok", "tok.thumb"]) == .decline(type: "http-01"))
        #expect { try UacmeHook.Call(arguments: ["begin", "dns-01", "example.test"]) } throws: { "\($0)".contains("5 arguments") }
        #expect { try UacmeHook.Call(arguments: ["start", "dns-01", "example.test", "t", "v"]) } throws: { "\($0)".contains("not a uacme hook method") }
        // Declining needs no config and says nothing: exit 1, empty stderr.
        let declined = try await CLIRunner.run(["hook", "uacme", "begin", "tls-alpn-01", "example.test", "tok", "abc"], environment: ["DNS01_CONFIG": "/nonexistent.toml"])
        #expect(declined.status == 1)
        #expect(declined.stderr.isEmpty, "\(declined.stderr)")
        // dehydrated's other events need no config either.
        let ignored = try await CLIRunner.run(["hook", "dehydrated", "startup_hook"], environment: ["DNS01_CONFIG": "/nonexistent.toml"])
        #expect(ignored.status == 0, "\(ignored.stderr)")
        #expect(ignored.stdout.isEmpty && ignored.stderr.isEmpty)
    }

    /// dehydrated's config in `base` (Pebble, dns-01, `hook`, `hookChain`), registered with
    /// Pebble; the environment its runs need (Pebble's CA, the dns01 binary, `config`).
    static func registeredDehydrated(_ lab: TestLab, base: String, hook: String, hookChain: String, config: String) async throws -> [String: String] {
        try """
        CA="\(lab.pebbleDirectory)"
        CHALLENGETYPE="dns-01"
        BASEDIR="\(base)"
        HOOK="\(hook)"
        HOOK_CHAIN="\(hookChain)"
        KEY_ALGO="prime256v1"
        """.write(toFile: "\(base)/config", atomically: true, encoding: .utf8)
        var env = ProcessInfo.processInfo.environment
        env["CURL_CA_BUNDLE"] = lab.pebbleCAFile
        env["DNS01"] = CLIRunner.executable
        env["DNS01_CONFIG"] = config
        let register = try await run("/usr/bin/dehydrated", ["-f", "\(base)/config", "--register", "--accept-terms"], environment: env)
        #expect(register.status == 0, "\(register.stdout)\(register.stderr)")
        return env
    }
}
