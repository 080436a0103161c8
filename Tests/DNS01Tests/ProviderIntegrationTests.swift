import Foundation
import Testing
import TestLab

/// Issue 4: the shell-hook and zone-file providers against the real BIND.
@Suite("shell and zone-file providers", .serialized)
struct ProviderIntegrationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The lab's config with its rfc2136 provider replaced by `provider` (TOML body lines).
    static func config(_ lab: TestLab, zone: String, provider: String, extraDNS: String = "") throws -> String {
        let text = """
        [acme]
        directory = "\(lab.pebbleDirectory)"
        \(FileManager.default.fileExists(atPath: lab.pebbleCAFile) ? "ca_bundle = \"\(lab.pebbleCAFile)\"" : "")
        agree_tos = true
        state_dir = "\(lab.directory)/state"

        [dns]
        resolvers = ["\(lab.primary)"]
        poll_interval = "250ms"
        propagation_timeout = "20s"
        \(extraDNS)

        [[provider]]
        name = "under-test"
        zones = ["\(zone)"]
        \(provider)

        [[zone]]
        name = "\(zone)"
        nameservers = ["\(lab.primary)", "\(lab.secondary)"]
        """
        let path = "\(lab.directory)/provider-\(UUID().uuidString.prefix(6)).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let commentedRecords = [
        "; hand-written records, kept byte for byte",
        "www   IN A     127.0.0.1 ; the web server",
        "mail  IN MX 10 www",
        "txt   IN TXT   \"spaces  inside\" \"two strings\"",
    ]

    static func zoneFileProvider(_ lab: TestLab, zone: String) -> String {
        """
        type = "zonefile"
        file = "\(lab.zoneFile(zone))"
        reload_command = "rndc -c \(lab.rndcConfigFile!) reload \(zone)"
        """
    }

    @Test func wildcardAndApexThroughTheZoneFile() async throws {
        let lab = try await TestLab.start(.init(zones: [], fileZones: ["files.test"], secondaryLag: 1,
                                                extraRecords: ["files.test": Self.commentedRecords]))
        defer { lab.stop() }
        let original = try String(contentsOfFile: lab.zoneFile("files.test"), encoding: .utf8)
        let config = try Self.config(lab, zone: "files.test", provider: Self.zoneFileProvider(lab, zone: "files.test"))
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.files.test", "-d", "files.test"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/files.test/cert.pem") == ["*.files.test", "files.test"])
        let after = try String(contentsOfFile: lab.zoneFile("files.test"), encoding: .utf8)
        let before = original.split(separator: "\n", omittingEmptySubsequences: false)
        let now = after.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(before.count == now.count)
        let changed = zip(before, now).filter { $0 != $1 }
        #expect(changed.count == 1 && changed.first?.0.contains("SOA") == true, "\(changed)")
        #expect(try lab.txtValues("_acme-challenge.files.test", at: lab.primary).isEmpty)
    }

    @Test func eightProcessesSharingOneZoneFileLoseNothing() async throws {
        let lab = try await TestLab.start(.init(zones: [], fileZones: ["files.test"], startPebble: false))
        defer { lab.stop() }
        let original = try String(contentsOfFile: lab.zoneFile("files.test"), encoding: .utf8)
        let config = try Self.config(lab, zone: "files.test", provider: Self.zoneFileProvider(lab, zone: "files.test"))
        let results = try await withThrowingTaskGroup(of: CLIResult.self) { group in
            for process in 1...8 {
                group.addTask {
                    try await CLIRunner.run(["check", "-c", config] + (1...10).flatMap { ["-d", "p\(process)n\($0).files.test"] })
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        // Every probe became visible (none lost) and was removed again.
        for result in results { #expect(result.status == 0, "\(result.stdout)\(result.stderr)") }
        let final = try String(contentsOfFile: lab.zoneFile("files.test"), encoding: .utf8)
        #expect(!final.contains("dns01 challenge"))
        #expect(final.split(separator: "\n").filter { !$0.contains("SOA") } == original.split(separator: "\n").filter { !$0.contains("SOA") })
        let check = try runTool("/usr/bin/named-checkzone", ["files.test", lab.zoneFile("files.test")])
        #expect(check.status == 0, "\(check.output)")
    }

    @Test func aZoneFileThatDoesNotParseIsLeftUntouched() async throws {
        let lab = try await TestLab.start(.init(zones: [], fileZones: ["files.test"], startPebble: false))
        defer { lab.stop() }
        let path = lab.zoneFile("files.test")
        let broken = try String(contentsOfFile: path, encoding: .utf8) + "broken IN A 300.1.2.3\n"
        try broken.write(toFile: path, atomically: true, encoding: .utf8)
        let config = try Self.config(lab, zone: "files.test", provider: Self.zoneFileProvider(lab, zone: "files.test"))
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.files.test"])
        #expect(result.status == 1)
        #expect((result.stdout + result.stderr).contains(path), "\(result.stdout)\(result.stderr)")
        #expect((result.stdout + result.stderr).contains("line"), "\(result.stdout)\(result.stderr)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == broken)
    }

    @Test func aFailingReloadIsReportedWithItsOutput() async throws {
        let lab = try await TestLab.start(.init(zones: [], fileZones: ["files.test"], startPebble: false))
        defer { lab.stop() }
        let original = try String(contentsOfFile: lab.zoneFile("files.test"), encoding: .utf8)
        let config = try Self.config(lab, zone: "files.test", provider: """
            type = "zonefile"
            file = "\(lab.zoneFile("files.test"))"
            reload_command = "echo reload refused by the test >&2; exit 3"
            """)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.files.test"])
        #expect(result.status == 1)
        #expect((result.stdout + result.stderr).contains("reload refused by the test"), "\(result.stdout)\(result.stderr)")
        // Whatever was written is taken out again.
        #expect(!(try String(contentsOfFile: lab.zoneFile("files.test"), encoding: .utf8)).contains("dns01 challenge"))
        _ = original
    }

    static func shellProvider(_ lab: TestLab, command: String, timeout: String = "10s") -> String {
        """
        type = "shell"
        command = "\(command)"
        timeout = "\(timeout)"
        env = { NSUPDATE_SERVER = "\(lab.primary)", NSUPDATE_KEY_FILE = "\(lab.tsigKeyFile)" }
        """
    }

    @Test func wildcardAndApexThroughTheNsupdateScript() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let config = try Self.config(lab, zone: "example.test", provider: Self.shellProvider(lab, command: "\(Self.repository)/providers/nsupdate"))
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem") == ["*.example.test", "example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    @Test func hooksThatFailOrHang() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let failing = "\(lab.directory)/failing-hook"
        try "#!/bin/sh\necho \"the API said no for $2\" >&2\nexit 1\n".write(toFile: failing, atomically: true, encoding: .utf8)
        let hanging = "\(lab.directory)/hanging-hook"
        try "#!/bin/sh\n[ \"$1\" = cleanup ] && exit 0\nsleep 300\n".write(toFile: hanging, atomically: true, encoding: .utf8)
        for path in [failing, hanging] { chmod(path, 0o755) }

        let first = try await CLIRunner.run(["check", "-c", try Self.config(lab, zone: "example.test",
                                                                           provider: Self.shellProvider(lab, command: failing)), "-d", "example.test"])
        #expect(first.status == 1)
        #expect((first.stdout + first.stderr).contains("the API said no for _acme-challenge.example.test"), "\(first.stdout)\(first.stderr)")

        let start = ContinuousClock.now
        let second = try await CLIRunner.run(["check", "-c", try Self.config(lab, zone: "example.test",
                                                                            provider: Self.shellProvider(lab, command: hanging, timeout: "1s")), "-d", "example.test"])
        #expect(second.status == 1)
        #expect((second.stdout + second.stderr).contains("1s"), "\(second.stdout)\(second.stderr)")
        #expect(ContinuousClock.now - start < .seconds(15))
        // The hook's process group is gone.
        let left = try runTool("/usr/bin/pgrep", ["-f", hanging])
        #expect(left.status != 0, "still running: \(left.output)")
    }

    /// A certificate whose records could not be presented is given up before its challenges are
    /// answered: its pending authorizations are deactivated at the CA (RFC 8555 §7.5.2).
    @Test func aFailedPresentationDeactivatesTheOrdersAuthorizations() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let failing = "\(lab.directory)/failing-hook"
        try "#!/bin/sh\n[ \"$1\" = cleanup ] && exit 0\necho \"the API said no\" >&2\nexit 1\n".write(toFile: failing, atomically: true, encoding: .utf8)
        chmod(failing, 0o755)
        let config = try Self.config(lab, zone: "example.test", provider: Self.shellProvider(lab, command: failing))
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test", "-v"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("the API said no"), "\(result.stderr)")
        #expect(result.stderr.contains("deactivated 2 of 2 pending authorization(s) of 1 abandoned order(s)"), "\(result.stderr)")
    }

    @Test(arguments: ["/nonexistent/hook", "not-executable"])
    func aMissingOrNonExecutableCommandIsAConfigError(_ name: String) async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        var command = name
        if !name.hasPrefix("/") {
            command = "\(lab.directory)/\(name)"
            try "#!/bin/sh\nexit 0\n".write(toFile: command, atomically: true, encoding: .utf8)
            chmod(command, 0o644)
        }
        let result = try await CLIRunner.run(["check", "-c", try Self.config(lab, zone: "example.test",
                                                                            provider: Self.shellProvider(lab, command: command)), "-d", "example.test"])
        #expect(result.status == 2)
        #expect(result.stderr.contains(command), "\(result.stderr)")
    }
}
