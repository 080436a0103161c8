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

/// A PowerDNS Authoritative server (Debian's pdns-server, gsqlite3 backend) with its HTTP API on
/// loopback, in a temp dir, for the providers/pdns test.
final class PowerDNS: @unchecked Sendable {
    let directory: String
    let dnsPort: UInt16
    let apiPort: UInt16
    let process: Process
    var apiURL: String { "http://127.0.0.1:\(apiPort)" }
    var keyFile: String { "\(directory)/api.key" }

    private init(directory: String, dnsPort: UInt16, apiPort: UInt16, process: Process) {
        self.directory = directory
        self.dnsPort = dnsPort
        self.apiPort = apiPort
        self.process = process
    }

    static func start(zone: String) async throws -> PowerDNS {
        let directory = NSTemporaryDirectory() + "dns01-pdns-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dnsPort = try FreePort.find(on: ["127.0.0.1"]), apiPort = try FreePort.find(on: ["127.0.0.1"])
        let key = UUID().uuidString
        try key.write(toFile: "\(directory)/api.key", atomically: true, encoding: .utf8)
        let schema = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
        let made = try runTool("/bin/sh", ["-c", "sqlite3 '\(directory)/pdns.sqlite3' < \(schema)"])
        guard made.status == 0 else { throw LabError("cannot create the PowerDNS database: \(made.output)") }
        try """
            launch=gsqlite3
            gsqlite3-database=\(directory)/pdns.sqlite3
            local-address=127.0.0.1
            local-port=\(dnsPort)
            api=yes
            api-key=\(key)
            webserver=yes
            webserver-address=127.0.0.1
            webserver-port=\(apiPort)
            webserver-allow-from=127.0.0.0/8
            socket-dir=\(directory)
            guardian=no
            daemon=no
            disable-syslog=yes
            write-pid=no
            """.write(toFile: "\(directory)/pdns.conf", atomically: true, encoding: .utf8)
        let created = try runTool("/usr/bin/pdnsutil", ["--config-dir=\(directory)", "create-zone", zone, "ns1.\(zone)"])
        guard created.status == 0 else { throw LabError("pdnsutil create-zone failed: \(created.output)") }
        _ = try runTool("/usr/bin/pdnsutil", ["--config-dir=\(directory)", "add-record", zone, "_acme-challenge", "TXT", "60", "\"unrelated\""])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/pdns_server")
        process.arguments = ["--config-dir=\(directory)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let server = PowerDNS(directory: directory, dnsPort: dnsPort, apiPort: apiPort, process: process)
        let deadline = Date().addingTimeInterval(20)
        while (try? runTool("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", server.apiURL + "/api"]).output) != "401" {
            guard Date() < deadline, process.isRunning else { server.stop(); throw LabError("pdns_server did not start") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return server
    }

    func txtValues(_ name: String) throws -> [String] {
        let result = try runTool("/usr/bin/dig", ["+short", "+norecurse", "@127.0.0.1", "-p", String(dnsPort), "TXT", name])
        return result.output.split(separator: "\n").map { $0.replacingOccurrences(of: "\"", with: "") }.sorted()
    }

    func stop() {
        // SIGKILL: a child spawned from a test's worker thread inherits its blocked signals, so
        // pdns_server never sees SIGTERM; its database lives in the temp dir and goes with it.
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
