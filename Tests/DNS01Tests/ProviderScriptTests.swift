import Foundation
import Testing
import TestLab

/// The scripts in providers/ against the real servers, driven the way dns01's shell provider
/// drives them (argv and environment of the contract in providers/README.md).
@Suite("providers/ scripts", .serialized)
struct ProviderScriptTests {
    static let providers = ProviderIntegrationTests.repository + "/providers"

    /// Runs a provider script with the contract's environment; `stdin` for batch mode.
    static func call(_ script: String, _ arguments: [String], env: [String: String], stdin: String? = nil) throws -> (status: Int32, output: String) {
        let result = try runProcess("\(providers)/\(script)", arguments,
                                    environment: ProcessInfo.processInfo.environment.merging(env) { $1 }, stdin: stdin)
        return (result.status, result.stdout + result.stderr)
    }

    static let values = ["evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", "Qq0xm5ABVR2Bz2RvxQ6cRzRSv_JWQ0-Pa0G3h6KuJSQ"]

    /// present two values (one call each), check both and the unrelated value; cleanup one.
    static func exercise(_ script: String, env: [String: String], zone: String, read: (String) throws -> [String]) throws {
        let name = "_acme-challenge.\(zone)"
        for value in values {
            let result = try call(script, ["present", name + ".", value], env: env.merging(["DNS01_ZONE": zone + ".", "DNS01_TTL": "60"]) { $1 })
            #expect(result.status == 0, "\(script) present: \(result.output)")
        }
        #expect(try read(name) == (values + ["unrelated"]).sorted())
        let result = try call(script, ["cleanup", name + ".", values[0]], env: env.merging(["DNS01_ZONE": zone + "."]) { $1 })
        #expect(result.status == 0, "\(script) cleanup: \(result.output)")
        #expect(try read(name) == [values[1], "unrelated"].sorted())
        // Batch mode: both records of the zone in one call.
        let lines = values.map { "{\"fqdn\":\"\(name).\",\"value\":\"\($0)\",\"zone\":\"\(zone).\",\"ttl\":60}" }.joined(separator: "\n") + "\n"
        let batch = try call(script, ["cleanup"], env: env.merging(["DNS01_ZONE": zone + ".", "DNS01_BATCH": "1", "DNS01_ACTION": "cleanup"]) { $1 }, stdin: lines)
        #expect(batch.status == 0, "\(script) batch cleanup: \(batch.output)")
        #expect(try read(name) == ["unrelated"])
    }

    /// A TXT value with spaces, ';', quotes and a backslash (a dns-persist-01 issue-value, and
    /// worse) goes through a script exactly: one argv element, or a JSON string in batch mode
    /// (with the escapes a JSON encoder writes, "\/" included), written as quoted
    /// character-strings and removed again.
    static let awkward = #"ca.example.test; accounturi=https://ca.example.test/acct/"1"\2; policy=wildcard"#

    /// And one longer than a character-string's 255 octets (a persist record's account URL may be long).
    static let long = "ca.example.test; accounturi=https://ca.example.test/acct/" + String(repeating: "0123456789", count: 30)

    static func exerciseAwkwardValue(_ script: String, env: [String: String], zone: String, read: (String) throws -> [String]) throws {
        try exerciseAwkwardValue(awkward, script, env: env, zone: zone, read: read)
        try exerciseAwkwardValue(long, script, env: env, zone: zone, read: read)
    }

    static func exerciseAwkwardValue(_ awkward: String, _ script: String, env: [String: String], zone: String, read: (String) throws -> [String]) throws {
        let name = "_validation-persist.www.\(zone)"
        let base = env.merging(["DNS01_ZONE": zone + ".", "DNS01_TTL": "60"]) { $1 }
        let present = try call(script, ["present", name + ".", awkward], env: base)
        #expect(present.status == 0, "\(script) present: \(present.output)")
        #expect(try read(name) == [awkward])
        // As a JSON encoder may write it: '\\', '"' and '/' escaped.
        let value = "\"" + awkward.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "/", with: "\\/") + "\""
        #expect(value.hasPrefix(#""ca.example.test; accounturi=https:\/\/ca.example.test\/acct\/"#), "\(value)")
        let line = "{\"fqdn\":\"\(name).\",\"value\":\(value),\"zone\":\"\(zone).\",\"ttl\":60}\n"
        let cleanup = try call(script, ["cleanup"], env: base.merging(["DNS01_BATCH": "1", "DNS01_ACTION": "cleanup"]) { $1 }, stdin: line)
        #expect(cleanup.status == 0, "\(script) batch cleanup: \(cleanup.output)")
        #expect(try read(name).isEmpty)
        // And the other way round: batch present, per-record cleanup.
        let batch = try call(script, ["present"], env: base.merging(["DNS01_BATCH": "1", "DNS01_ACTION": "present"]) { $1 }, stdin: line)
        #expect(batch.status == 0, "\(script) batch present: \(batch.output)")
        #expect(try read(name) == [awkward])
        let single = try call(script, ["cleanup", name + ".", awkward], env: base)
        #expect(single.status == 0, "\(script) cleanup: \(single.output)")
        #expect(try read(name).isEmpty)
    }

    @Test(arguments: ["nsupdate", "knot"])
    func rfc2136ScriptsTakeAnyValue(_ script: String) async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let prefix = script == "nsupdate" ? "NSUPDATE" : "KNOT"
        try Self.exerciseAwkwardValue(script, env: ["\(prefix)_SERVER": lab.primary, "\(prefix)_KEY_FILE": lab.tsigKeyFile], zone: "example.test") {
            try lab.txtValues($0, at: lab.primary)
        }
    }

    @Test func powerDNSScriptTakesAnyValue() async throws {
        let server = try await PowerDNS.start(zone: "pdns.test")
        defer { server.stop() }
        try Self.exerciseAwkwardValue("pdns", env: ["PDNS_API_URL": server.apiURL, "PDNS_API_KEY_FILE": server.keyFile], zone: "pdns.test") {
            try server.txtValues($0)
        }
    }

    /// A real dns-persist-01 record, set and removed by `dns01 persist` through each shipped
    /// script as a `type = "shell"` provider (lexicon as `type = "lexicon"`, which runs
    /// providers/lexicon), per record and in batch mode.
    @Test(arguments: [("nsupdate", false), ("nsupdate", true), ("knot", false), ("knot", true), ("pdns", false), ("pdns", true), ("lexicon", true)])
    func persistRecordThroughEachScript(_ script: String, batch: Bool) async throws {
        let onPowerDNS = script == "pdns" || script == "lexicon"
        let pdns = onPowerDNS ? try await PowerDNS.start(zone: "pdns.test") : nil
        defer { pdns?.stop() }
        let lab = try await TestLab.start(.init(resolver: onPowerDNS, resolverForwards: pdns.map { ["pdns.test": "127.0.0.1:\($0.dnsPort)"] } ?? [:]))
        defer { lab.stop() }
        let zone = onPowerDNS ? "pdns.test" : "example.test"
        let provider: String
        switch script {
        case "pdns":
            provider = "env = { PDNS_API_URL = \"\(pdns!.apiURL)\", PDNS_API_KEY_FILE = \"\(pdns!.keyFile)\" }"
        case "lexicon":
            let key = try String(contentsOfFile: pdns!.keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            provider = """
                lexicon_provider = "powerdns"
                python = "\(TestLab.virtualenv)/bin/python"
                env = { LEXICON_POWERDNS_AUTH_TOKEN = "\(key)", LEXICON_POWERDNS_PDNS_SERVER = "\(pdns!.apiURL)", LEXICON_POWERDNS_PDNS_SERVER_ID = "localhost" }
                """
        default:
            let prefix = script == "nsupdate" ? "NSUPDATE" : "KNOT"
            provider = "env = { \(prefix)_SERVER = \"\(lab.primary)\", \(prefix)_KEY_FILE = \"\(lab.tsigKeyFile)\" }"
        }
        let config = try lab.writeConfig("\(script).toml") { text in
            var text = text.replacingOccurrences(of: "zones = [\"example.test\"]", with: "zones = [\"other.test\"]")
            text += """

                [[provider]]
                name = "script"
                type = "\(script == "lexicon" ? "lexicon" : "shell")"
                zones = ["\(zone)"]
                command = "\(Self.providers)/\(script)"
                \(script == "lexicon" ? "" : "batch = \(batch)")
                \(provider)

                """
            if let pdns { text += "\n[[zone]]\nname = \"pdns.test\"\nnameservers = [\"127.0.0.1:\(pdns.dnsPort)\"]\n" }
            return text
        }
        // The lexicon config holds the PowerDNS key: readable by its owner only (hardening item 3).
        chmod(config, 0o600)
        func read(_ name: String) throws -> [String] {
            try pdns.map { try $0.txtValues(name) } ?? lab.txtValues(name, at: lab.primary)
        }
        let name = "_validation-persist.www.\(zone)"
        let set = try await CLIRunner.run(["persist", "-c", config, "-d", "www.\(zone)", "--wildcard", "--issuer", PersistIntegrationTests.issuer])
        #expect(set.status == 0, "stderr: \(set.stderr)")
        let value = "\(PersistIntegrationTests.issuer); accounturi=\(try PersistIntegrationTests.accountURL(lab)); policy=wildcard"
        #expect(try read(name) == [value])
        let remove = try await CLIRunner.run(["persist", "--remove", "-c", config, "-d", "www.\(zone)", "--issuer", PersistIntegrationTests.issuer])
        #expect(remove.status == 0, "stderr: \(remove.stderr)")
        #expect(try read(name).isEmpty)
    }

    @Test(arguments: ["nsupdate", "knot"])
    func rfc2136Scripts(_ script: String) async throws {
        let lab = try await TestLab.start(.init(extraRecords: ["example.test": ["_acme-challenge IN TXT \"unrelated\""]], startPebble: false))
        defer { lab.stop() }
        let prefix = script == "nsupdate" ? "NSUPDATE" : "KNOT"
        try Self.exercise(script, env: ["\(prefix)_SERVER": lab.primary, "\(prefix)_KEY_FILE": lab.tsigKeyFile], zone: "example.test") {
            try lab.txtValues($0, at: lab.primary)
        }
        // A wrong key is an error, and its secret is not printed.
        let wrong = "\(lab.directory)/wrong.key"
        try "key \"\(lab.tsigKeyName)\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\"; };\n"
            .write(toFile: wrong, atomically: true, encoding: .utf8)
        let result = try Self.call(script, ["present", "_acme-challenge.example.test.", "x"],
                                   env: ["\(prefix)_SERVER": lab.primary, "\(prefix)_KEY_FILE": wrong, "DNS01_ZONE": "example.test."])
        #expect(result.status != 0)
        #expect(!result.output.contains("c2VjcmV0c2VjcmV0"))
    }

    @Test func powerDNSScript() async throws {
        let server = try await PowerDNS.start(zone: "pdns.test")
        defer { server.stop() }
        try Self.exercise("pdns", env: ["PDNS_API_URL": server.apiURL, "PDNS_API_KEY_FILE": server.keyFile], zone: "pdns.test") {
            try server.txtValues($0)
        }
        let bad = try Self.call("pdns", ["present", "_acme-challenge.pdns.test.", "x"],
                                env: ["PDNS_API_URL": server.apiURL, "PDNS_API_KEY": "wrong-key", "DNS01_ZONE": "pdns.test."])
        #expect(bad.status != 0)
        #expect(bad.output.contains("HTTP 401"), "\(bad.output)")
    }
}
