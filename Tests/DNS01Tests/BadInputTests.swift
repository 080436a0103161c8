import Foundation
import Testing
import TestLab

/// Bad input gets one clear sentence naming the bad thing and DESIGN.md's exit status.
@Suite("bad input")
struct BadInputTests {
    /// A config whose CA cannot be reached: exit 2 then proves the name was rejected before any
    /// CA contact (contact would have failed with 1).
    static let unreachableCAConfig = """
        [acme]
        directory = "https://127.0.0.1:9/dir"
        agree_tos = true
        state_dir = "/nonexistent/dns01-state"
        [dns]
        resolvers = ["127.0.0.1:9"]
        [[provider]]
        name = "p"
        type = "rfc2136"
        zones = ["example.test"]
        server = "127.0.0.1:9"
        """

    /// Writes `text` as a config in a fresh directory (its `state_dir` placed there too) and
    /// passes the config's path to `body`; the directory is removed afterwards.
    static func withTempConfig(_ text: String, _ body: (String) async throws -> Void) async throws {
        let directory = NSTemporaryDirectory() + "dns01-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = "\(directory)/dns01.toml"
        try text.replacingOccurrences(of: "/nonexistent/dns01-state", with: "\(directory)/state")
            .write(toFile: path, atomically: true, encoding: .utf8)
        try await body(path)
    }

    @Test(arguments: [
        ("bad..name", "bad..name"),
        (String(repeating: "a", count: 64) + ".example.test", String(repeating: "a", count: 64)),
        ("*.*.x.example", "*.*.x.example"),
        ("ex ample.test", "ex ample.test"),
    ])
    func invalidNameExitsTwoBeforeContact(name: String, mentioned: String) async throws {
        try await Self.withTempConfig(Self.unreachableCAConfig) { config in
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", name])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stderr.contains(mentioned))
            #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
        }
    }

    /// A name of exactly `octets` octets ending in ".example.test", in labels of at most 63.
    static func longName(_ octets: Int) -> String {
        var labels: [String] = []
        var left = octets - "example.test".utf8.count - 1
        while left > 63 {
            labels.append(String(repeating: "a", count: 62))
            left -= 63
        }
        labels.append(String(repeating: "b", count: left))
        return (labels + ["example.test"]).joined(separator: ".")
    }

    /// A name that passes as a name but whose challenge record would be longer than the 253
    /// octets of a DNS name is refused before any order: exit 2, one sentence naming the name,
    /// its length and the record (the CA here is unreachable: contact would exit 1).
    @Test(arguments: [
        (238, [String](), "_acme-challenge."),
        (253, [String](), "_acme-challenge."),
        (220, ["--challenge", "dns-account-01"], "_<account label>._acme-challenge."),
        (234, ["--challenge", "dns-persist-01"], "_validation-persist."),
    ])
    func nameTooLongForItsChallengeRecordExitsTwo(octets: Int, extra: [String], prefix: String) async throws {
        let name = Self.longName(octets)
        #expect(name.utf8.count == octets)
        try await Self.withTempConfig(Self.unreachableCAConfig) { config in
            for domain in [name, "*." + name].filter({ $0.utf8.count <= 253 }) {
                let result = try await CLIRunner.run(["issue", "-c", config, "-d", domain, "--cert-name", "long"] + extra)
                #expect(result.status == 2, "stderr: \(result.stderr)")
                #expect(result.stderr.contains("'\(name)' is \(octets) octets long, too long for its challenge record \(prefix)\(name)"), "stderr: \(result.stderr)")
                #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
            }
        }
    }

    /// The longest names that fit reach the CA (exit 1 naming it: it is unreachable).
    @Test(arguments: [(237, [String]()), (219, ["--challenge", "dns-account-01"]), (233, ["--challenge", "dns-persist-01"])])
    func nameThatJustFitsReachesTheCA(octets: Int, extra: [String]) async throws {
        try await Self.withTempConfig(Self.unreachableCAConfig) { config in
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", Self.longName(octets), "--cert-name", "long"] + extra)
            #expect(result.status == 1, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("127.0.0.1"), "names the CA: \(result.stderr)")
        }
    }

    /// Without --cert-name the certificate is named after its first name; when that is too
    /// long for a certificate name, the sentence says so and what to do.
    @Test func defaultCertNameTooLongSaysWhy() async throws {
        let name = Self.longName(210)
        try await Self.withTempConfig(Self.unreachableCAConfig) { config in
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", name])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("'\(name)', which is 210 characters long, more than the 200 of a certificate name: give a shorter one with --cert-name"), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("letters, digits"), "stderr: \(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
        }
    }

    /// The same rules for `[[certificate]]` entries, when the config is read by `dns01 run`.
    @Test(arguments: [
        ("name = \"long\"\ndomains = [\"\(longName(240))\"]", "'\(longName(240))' is 240 octets long, too long for its challenge record _acme-challenge."),
        ("name = \"long\"\ndomains = [\"\(longName(225))\"]\nchallenge = \"dns-account-01\"", "[[certificate]] 'long': '\(longName(225))' is 225 octets long"),
        ("domains = [\"\(longName(210))\"]", "is 210 characters long, more than the 200 of a certificate name: set a shorter `name`"),
    ])
    func certificateEntryWithTooLongNameExitsTwo(entry: String, mentioned: String) async throws {
        try await Self.withTempConfig(Self.unreachableCAConfig + "\n[[certificate]]\n" + entry + "\n") { config in
            let result = try await CLIRunner.run(["run", "-c", config])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stderr.contains(mentioned), "stderr: \(result.stderr)")
            #expect(!result.stderr.contains("letters, digits"), "stderr: \(result.stderr)")
        }
    }

    @Test func unreachableCAExitsOneNamingIt() async throws {
        try await Self.withTempConfig(Self.unreachableCAConfig) { config in
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
            #expect(result.status == 1, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("127.0.0.1"), "names the CA: \(result.stderr)")
        }
    }

    @Test func missingConfigExitsTwo() async throws {
        let result = try await CLIRunner.run(["issue", "-c", "/nonexistent/dns01.toml", "-d", "example.test"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/dns01.toml"))
    }

    @Test func wrongTSIGSecretExitsOneWithoutPrintingIt() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let original = try String(contentsOfFile: lab.tsigKeyFile, encoding: .utf8)
        let wrongSecret = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let wrongKey = original.replacingOccurrences(
            of: #"secret "[^"]*""#, with: "secret \"\(wrongSecret)\"", options: .regularExpression)
        #expect(wrongKey != original)
        let keyPath = "\(lab.directory)/wrong.key"
        try wrongKey.write(toFile: keyPath, atomically: true, encoding: .utf8)
        chmod(keyPath, 0o600)  // a secret file (hardening item 3 refuses it otherwise)
        let config = try lab.writeConfig { $0.replacingOccurrences(of: lab.tsigKeyFile, with: keyPath) }

        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test", "-v"])
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("TSIG"), "says the TSIG was refused: \(result.stderr)")
        #expect(result.stderr.contains(lab.tsigKeyName))
        #expect(!result.stderr.contains(wrongSecret) && !result.stdout.contains(wrongSecret))
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    @Test func unreachableDNSServerExitsOneNamingIt() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        // The provider's server is a closed port on the lab's address.
        let config = try lab.writeConfig { text in
            text.replacingOccurrences(of: "server = \"\(lab.primary)\"", with: "server = \"127.0.0.1:9\"\ntimeout = \"2s\"")
        }
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
        #expect(result.status == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("127.0.0.1:9"), "names the server: \(result.stderr)")
    }
}
