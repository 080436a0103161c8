import Foundation
import Synchronization

/// A PowerDNS Authoritative server (Debian's pdns-server with the gsqlite3 backend) on free
/// loopback ports, its HTTP API on (`api=yes`, the webserver on 127.0.0.1), the API key read
/// from a 0600 file of its own (`include-dir`), every API request logged (loglevel 6,
/// `webserver-loglevel=normal`) so tests can count them. Zones are made with pdnsutil, which
/// leaves SOA-EDIT-API unset unless `soaEditAPI` says otherwise. Stopped by pid; everything
/// lives in a temp directory that goes with it.
public final class PowerDNS: @unchecked Sendable {
    public let directory: String
    public let dnsPort: UInt16
    public let apiPort: UInt16
    public let zones: [String]
    let process: LabProcess
    /// The webserver's base, as `api_url` takes it.
    public var apiURL: String { "http://127.0.0.1:\(apiPort)" }
    /// "127.0.0.1:PORT" of its DNS listener.
    public var server: String { "127.0.0.1:\(dnsPort)" }
    /// A 0600 file holding the API key, for clients.
    public var keyFile: String { "\(directory)/api.key" }
    private let stopped = Mutex(false)

    private init(directory: String, dnsPort: UInt16, apiPort: UInt16, zones: [String], process: LabProcess) {
        self.directory = directory
        self.dnsPort = dnsPort
        self.apiPort = apiPort
        self.zones = zones
        self.process = process
    }

    /// One zone with SOA-EDIT-API unset, and the TXT value "unrelated" at its `_acme-challenge`.
    public static func start(zone: String) async throws -> PowerDNS {
        try await start(zones: [zone])
    }

    /// Starts pdns_server serving `zones` (made with pdnsutil: an SOA and one NS), each with
    /// `unrelated` as a TXT value at `_acme-challenge.<zone>` when it is not nil, and the zones'
    /// SOA-EDIT-API metadata set to `soaEditAPI` ("DEFAULT" makes every API change move the
    /// serial) when it is not nil. `directory`: where it lives (a new temp directory when nil).
    public static func start(zones: [String], soaEditAPI: String? = nil, unrelated: String? = "unrelated",
                             directory: String? = nil) async throws -> PowerDNS {
        let directory = directory ?? NSTemporaryDirectory() + "dns01-pdns-\(UUID().uuidString.prefix(8))"
        let fm = FileManager.default
        try fm.createDirectory(atPath: "\(directory)/conf.d", withIntermediateDirectories: true)
        let dnsPort = try FreePort.find(on: ["127.0.0.1"]), apiPort = try FreePort.find(on: ["127.0.0.1"])
        let key = "pdns-lab-" + UUID().uuidString
        try writeSecret(key + "\n", to: "\(directory)/api.key")
        try writeSecret("api-key=\(key)\n", to: "\(directory)/conf.d/api-key.conf")
        let schema = "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"
        guard let sqlite = which("sqlite3"), fm.fileExists(atPath: schema), let pdnsutil = which("pdnsutil"), let pdns = which("pdns_server") else {
            throw LabError("PowerDNS is not installed (pdns_server, pdnsutil, sqlite3, the gsqlite3 schema): apt-get install pdns-server pdns-backend-sqlite3 sqlite3")
        }
        let made = try runCommand(sqlite, ["\(directory)/pdns.sqlite3", ".read \(schema)"])
        guard made.status == 0 else { throw LabError("cannot create the PowerDNS database: \(made.output)") }
        try """
            launch=gsqlite3
            gsqlite3-database=\(directory)/pdns.sqlite3
            local-address=127.0.0.1
            local-port=\(dnsPort)
            api=yes
            webserver=yes
            webserver-address=127.0.0.1
            webserver-port=\(apiPort)
            webserver-allow-from=127.0.0.0/8
            webserver-loglevel=normal
            loglevel=6
            include-dir=\(directory)/conf.d
            socket-dir=\(directory)
            guardian=no
            daemon=no
            disable-syslog=yes
            write-pid=no

            """.write(toFile: "\(directory)/pdns.conf", atomically: true, encoding: .utf8)
        for zone in zones {
            let created = try runCommand(pdnsutil, ["--config-dir=\(directory)", "create-zone", zone, "ns1.\(zone)"])
            guard created.status == 0 else { throw LabError("pdnsutil create-zone \(zone) failed: \(created.output)") }
            if let unrelated {
                let added = try runCommand(pdnsutil, ["--config-dir=\(directory)", "add-record", zone, "_acme-challenge", "TXT", "60", "\"\(unrelated)\""])
                guard added.status == 0 else { throw LabError("pdnsutil add-record failed: \(added.output)") }
            }
            if let soaEditAPI {
                let set = try runCommand(pdnsutil, ["--config-dir=\(directory)", "set-meta", zone, "SOA-EDIT-API", soaEditAPI])
                guard set.status == 0 else { throw LabError("pdnsutil set-meta failed: \(set.output)") }
            }
        }
        let process = try LabProcess(name: "pdns_server", executable: pdns, arguments: ["--config-dir=\(directory)"], directory: directory)
        let server = PowerDNS(directory: directory, dnsPort: dnsPort, apiPort: apiPort, zones: zones, process: process)
        // Up when the API answers (401 without the key) and the DNS side serves every zone.
        let deadline = Date().addingTimeInterval(30)
        while true {
            let api = try runCommand("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2", server.apiURL + "/api"]).output
            let served = try zones.allSatisfy { zone in
                try runCommand(which("dig") ?? "/usr/bin/dig", ["+norecurse", "+time=1", "+tries=1", "@127.0.0.1", "-p", String(dnsPort), "SOA", zone])
                    .output.contains("status: NOERROR")
            }
            if api == "401" && served { break }
            guard Date() < deadline, process.isRunning else {
                let log = (try? String(contentsOfFile: "\(directory)/pdns_server.log", encoding: .utf8)) ?? ""
                server.stop()
                throw LabError("pdns_server did not start: \(log.split(separator: "\n").suffix(10).joined(separator: "\n"))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return server
    }

    /// The TXT values at `name` as this PowerDNS serves them.
    public func txtValues(_ name: String) throws -> [String] {
        let result = try runCommand(which("dig") ?? "/usr/bin/dig", ["+short", "+norecurse", "+time=2", "+tries=2", "@127.0.0.1", "-p", String(dnsPort), "TXT", name])
        guard result.status == 0 else { throw LabError("dig @\(server) TXT \(name) failed: \(result.output)") }
        return result.output.split(separator: "\n").map { TestLab.unquote(String($0)) }.filter { !$0.isEmpty }.sorted()
    }

    /// API requests served so far, by "METHOD path" (from the webserver's log lines).
    public func requests() throws -> [String: Int] {
        let log = try String(contentsOfFile: "\(directory)/pdns_server.log", encoding: .utf8)
        var counts: [String: Int] = [:]
        for line in log.split(separator: "\n") {
            guard let match = line.firstMatch(of: /"([A-Z]+) (\/api\/[^ ?"]*)[^"]* HTTP\/1\.[01]"/) else { continue }
            counts["\(match.1) \(match.2)", default: 0] += 1
        }
        return counts
    }

    /// Stops the server and removes its directory (unless DNS01_KEEP_LAB is set). Safe to call twice.
    public func stop() {
        guard stopped.withLock({ done in defer { done = true }; return !done }) else { return }
        process.stop()
        if ProcessInfo.processInfo.environment["DNS01_KEEP_LAB"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    deinit { stop() }

    private static func writeSecret(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]) else {
            throw LabError("cannot write \(path)")
        }
    }
}
