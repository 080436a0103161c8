import Foundation

/// A throw-away DNS + ACME lab on loopback: a BIND primary that takes TSIG-signed dynamic
/// updates, a BIND secondary that follows it by NOTIFY + IXFR and
/// can lag behind it (the primary's `notify-delay`), and Pebble asking the secondary. Everything
/// lives in a temp directory and is stopped by pid. Both servers listen on 127.0.0.1, on two
/// ports: BIND only listens on interface addresses, and 127.0.0.2 is not one on a stock host.
public final class TestLab: @unchecked Sendable {
    public struct Options: Sendable {
        /// Zones on both servers that accept dynamic updates with the lab key.
        public var zones: [String]
        /// Zones on both servers that take no dynamic updates: their file is edited and the
        /// primary reloaded with rndc (the zone-file provider).
        public var fileZones: [String]
        /// Seconds between a change on the primary and its NOTIFY to the secondary.
        public var secondaryLag: Int
        public var pebbleEnv: [String: String]
        /// PEBBLE_VA_NOSLEEP=1: Pebble validates at once instead of after a random pause.
        public var pebbleVANoSleep: Bool
        /// Raw JSON values merged into Pebble's "pebble" object, by key.
        public var pebbleConfigExtra: [String: String]
        /// Extra zone-file lines per zone.
        public var extraRecords: [String: [String]]
        public var tsigAlgorithm: String
        public var startPebble: Bool
        /// A fixed port for the secondary (53 lets clients that assume port 53, like lego's
        /// authoritative check, ask it); a free one when nil.
        public var secondaryPort: UInt16?
        /// A third BIND, a caching recursive resolver that forwards the lab's zones to the
        /// secondary; Pebble then asks it instead of the secondary, as a private CA that shares
        /// the user's resolver does.
        public var resolver: Bool
        /// The zones' negative-caching TTL (RFC 2308 §5: the SOA record's TTL and MINIMUM field).
        public var negativeTTL: Int
        /// More zones the resolver forwards, to "127.0.0.1:PORT" (servers outside the lab, like
        /// a PowerDNS a test started).
        public var resolverForwards: [String: String]
        /// The primary also listens on [::1] at its port, for nameservers with an AAAA ::1.
        public var primaryIPv6: Bool
        /// Zones the secondary also serves, transferred from "127.0.0.1:PORT" (a server outside
        /// the lab, like a PowerDNS a test started), polling its SOA every 1-2 s.
        public var secondaryOf: [String: String]
        /// Zones of a PowerDNS Authoritative the lab starts first (`powerDNS`), with SOA-EDIT-API
        /// DEFAULT, its API on, and the secondary following it as it follows `secondaryOf`.
        public var powerDNSZones: [String]

        public init(zones: [String] = ["example.test"], fileZones: [String] = [], secondaryLag: Int = 0,
                    pebbleEnv: [String: String] = [:], pebbleVANoSleep: Bool = true,
                    pebbleConfigExtra: [String: String] = [:], extraRecords: [String: [String]] = [:],
                    tsigAlgorithm: String = "hmac-sha256", startPebble: Bool = true,
                    secondaryPort: UInt16? = nil, resolver: Bool = false, negativeTTL: Int = 60,
                    resolverForwards: [String: String] = [:], primaryIPv6: Bool = false, secondaryOf: [String: String] = [:],
                    powerDNSZones: [String] = []) {
            self.zones = zones
            self.fileZones = fileZones
            self.secondaryLag = secondaryLag
            self.pebbleEnv = pebbleEnv
            self.pebbleVANoSleep = pebbleVANoSleep
            self.pebbleConfigExtra = pebbleConfigExtra
            self.extraRecords = extraRecords
            self.tsigAlgorithm = tsigAlgorithm
            self.startPebble = startPebble
            self.secondaryPort = secondaryPort
            self.resolver = resolver
            self.negativeTTL = negativeTTL
            self.resolverForwards = resolverForwards
            self.primaryIPv6 = primaryIPv6
            self.secondaryOf = secondaryOf
            self.powerDNSZones = powerDNSZones
        }
    }

    public let options: Options
    public let directory: String
    /// The primary's DNS port.
    public let port: UInt16
    public let secondaryPort: UInt16
    public var primary: String { "127.0.0.1:\(port)" }
    public var secondary: String { "127.0.0.1:\(secondaryPort)" }
    /// The caching resolver ("127.0.0.1:PORT") with `Options.resolver`, nil without.
    public private(set) var resolver: String?
    public let tsigKeyName = "dns01-lab-key"
    public var tsigKeyFile: String { "\(directory)/tsig.key" }
    public var rndcConfigFile: String? { "\(directory)/rndc.conf" }
    public private(set) var pebblePort: UInt16 = 0
    public private(set) var pebbleManagementPort: UInt16 = 0
    public var pebbleDirectory: String { "https://127.0.0.1:\(pebblePort)/dir" }
    public var pebbleManagement: String { "https://127.0.0.1:\(pebbleManagementPort)" }
    public var pebbleCAFile: String { "\(directory)/pebble/cert.pem" }
    /// The PowerDNS of `Options.powerDNSZones`, nil without.
    public private(set) var powerDNS: PowerDNS?
    var processes: [LabProcess] = []
    private var follower: LagFollower?
    private let lock = NSLock()
    private var stopped = false

    /// The primary's zone file of `zone`.
    public func zoneFile(_ zone: String) -> String { "\(directory)/primary/\(zone).zone" }

    private init(options: Options, directory: String, port: UInt16, secondaryPort: UInt16) {
        self.options = options
        self.directory = directory
        self.port = port
        self.secondaryPort = secondaryPort
    }

    /// Starts everything and returns once both servers answer for every zone and Pebble's
    /// directory answers.
    public static func start(_ options: Options = .init()) async throws -> TestLab {
        let base = FileManager.default.temporaryDirectory.path
        let directory = "\(base)/dns01-lab-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let lab = TestLab(options: options, directory: directory, port: try FreePort.find(on: options.primaryIPv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]),
                          secondaryPort: try options.secondaryPort ?? FreePort.find(on: ["127.0.0.1"]))
        do {
            try await lab.launch()
        } catch {
            let logs = lab.logTail()
            lab.stop()
            throw LabError("\(error)\(logs)")
        }
        return lab
    }

    private func launch() async throws {
        guard let named = which("named"), let keygen = which("tsig-keygen") else {
            throw LabError("BIND is not installed (named, tsig-keygen): apt-get install bind9 bind9-utils")
        }
        let fm = FileManager.default
        for sub in ["primary", "secondary", "resolver", "pebble"] {
            try fm.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true)
        }
        let tsig = try runCommand(keygen, ["-a", options.tsigAlgorithm, tsigKeyName])
        guard tsig.status == 0 else { throw LabError("tsig-keygen failed: \(tsig.output)") }
        try write(tsig.output, to: tsigKeyFile, mode: 0o600)
        let rndc = try runCommand(keygen, ["-a", "hmac-sha256", "rndc-key"])
        try write(rndc.output, to: "\(directory)/rndc.key", mode: 0o600)
        let controlPort = try FreePort.find(on: ["127.0.0.1"])
        try write("include \"\(directory)/rndc.key\";\noptions { default-key \"rndc-key\"; default-server 127.0.0.1; default-port \(controlPort); };\n",
                  to: "\(directory)/rndc.conf", mode: 0o600)

        if !options.powerDNSZones.isEmpty {
            powerDNS = try await PowerDNS.start(zones: options.powerDNSZones, soaEditAPI: "DEFAULT", directory: "\(directory)/pdns")
        }
        let allZones = options.zones + options.fileZones
        for zone in allZones {
            try write(zoneText(zone), to: zoneFile(zone), mode: 0o644)
        }
        try write(namedConf(role: "primary", controlPort: controlPort), to: "\(directory)/primary/named.conf", mode: 0o644)
        let secondaryControlPort = try FreePort.find(on: ["127.0.0.1"])
        try write("include \"\(directory)/rndc.key\";\noptions { default-key \"rndc-key\"; default-server 127.0.0.1; default-port \(secondaryControlPort); };\n",
                  to: "\(directory)/rndc-secondary.conf", mode: 0o600)
        try write(namedConf(role: "secondary", controlPort: secondaryControlPort), to: "\(directory)/secondary/named.conf", mode: 0o644)
        processes.append(try LabProcess(name: "named-primary", executable: named,
                                        arguments: ["-g", "-n", "1", "-c", "\(directory)/primary/named.conf"],
                                        directory: "\(directory)/primary"))
        // The secondary starts once the primary serves its zones: a secondary whose first
        // transfer finds the primary not yet listening puts it in BIND's unreachable-primaries
        // cache and tries again only a minute later (CI saw a lab start time out on it).
        let primaryDeadline = Date().addingTimeInterval(60)
        for zone in allZones {
            try await poll(until: primaryDeadline, "\(primary) to serve \(zone)") { [self] in
                try self.answersSOA(zone, at: primary)
            }
        }
        processes.append(try LabProcess(name: "named-secondary", executable: named,
                                        arguments: ["-g", "-n", "1", "-c", "\(directory)/secondary/named.conf"],
                                        directory: "\(directory)/secondary"))
        if options.resolver {
            let resolverPort = try FreePort.find(on: ["127.0.0.1"])
            try write(resolverConf(port: resolverPort), to: "\(directory)/resolver/named.conf", mode: 0o644)
            processes.append(try LabProcess(name: "named-resolver", executable: named,
                                            arguments: ["-g", "-n", "1", "-c", "\(directory)/resolver/named.conf"],
                                            directory: "\(directory)/resolver"))
            resolver = "127.0.0.1:\(resolverPort)"
        }
        if options.startPebble { try startPebble() }
        if options.secondaryLag > 0 {
            let follower = LagFollower(lag: options.secondaryLag, zones: allZones.map { ($0, zoneFile($0)) },
                                       rndcConfig: "\(directory)/rndc-secondary.conf")
            follower.start()
            self.follower = follower
        }

        let deadline = Date().addingTimeInterval(60)
        for zone in allZones {
            // Not the resolver: a query through it before the test's own would be cached.
            for server in [primary, secondary] {
                try await poll(until: deadline, "\(server) to serve \(zone)") { [self] in
                    try self.answersSOA(zone, at: server)
                }
            }
        }
        for zone in secondaryZones.keys.sorted() {
            try await poll(until: deadline, "\(secondary) to serve \(zone)") { [self] in
                try self.answersSOA(zone, at: secondary)
            }
        }
        if let resolver {
            // Up when it answers a CHAOS query, which asks nothing of the lab's zones.
            try await poll(until: deadline, "the resolver at \(resolver) to answer") { [self] in
                let parts = resolver.split(separator: ":")
                let result = try runCommand(which("dig") ?? "/usr/bin/dig",
                                            ["+time=1", "+tries=1", "@\(parts[0])", "-p", String(parts[1]), "version.bind", "CH", "TXT"])
                return result.output.contains("status: NOERROR")
            }
        }
        if options.startPebble {
            try await poll(until: deadline, "Pebble to answer at \(pebbleDirectory)") { [self] in
                let result = try runCommand("/usr/bin/curl", ["-s", "--max-time", "2", "--cacert", self.pebbleCAFile, self.pebbleDirectory])
                return result.output.contains("newNonce")
            }
        }
    }

    private func startPebble() throws {
        guard let pebble = which("pebble") else { throw LabError("Pebble is not installed: apt-get install pebble") }
        let dir = "\(directory)/pebble"
        let openssl = try runCommand("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "\(dir)/key.pem", "-out", "\(dir)/cert.pem", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "7",
        ])
        guard openssl.status == 0 else { throw LabError("openssl could not make Pebble's certificate: \(openssl.output)") }
        pebblePort = try FreePort.find(on: ["127.0.0.1"])
        pebbleManagementPort = try FreePort.find(on: ["127.0.0.1"])
        let httpPort = try FreePort.find(on: ["127.0.0.1"])
        let tlsPort = try FreePort.find(on: ["127.0.0.1"])
        var members = [
            "\"listenAddress\": \"127.0.0.1:\(pebblePort)\"",
            "\"managementListenAddress\": \"127.0.0.1:\(pebbleManagementPort)\"",
            "\"certificate\": \"\(dir)/cert.pem\"",
            "\"privateKey\": \"\(dir)/key.pem\"",
            "\"httpPort\": \(httpPort)",
            "\"tlsPort\": \(tlsPort)",
            "\"ocspResponderURL\": \"\"",
        ]
        if options.pebbleConfigExtra["externalAccountBindingRequired"] == nil {
            members.append("\"externalAccountBindingRequired\": false")
        }
        for (key, value) in options.pebbleConfigExtra.sorted(by: { $0.key < $1.key }) {
            members.append("\"\(key)\": \(value)")
        }
        try write("{\"pebble\": {\n  " + members.joined(separator: ",\n  ") + "\n}}\n", to: "\(dir)/pebble-config.json", mode: 0o644)
        var env = options.pebbleEnv
        // Pebble 2.4 can deadlock when newOrders of one account overlap: makeAuthorizations
        // calls FindValidAuthorization, which holds the store's read lock while it read-locks
        // every stored authorization, while another newOrder holds its new authorization's lock
        // and waits in AddChallenge for the store's write lock (goroutine dumps in
        // bench/README.md). The search runs whatever PEBBLE_AUTHZREUSE says, so the odds grow
        // with the authorizations Pebble holds; the tests stay small (at most 20 certificates
        // per run), and a hang ends in dns01's HTTP timeouts (30 s per request), not a stuck
        // test. Reuse is off unless asked for, so each test writes the records it expects.
        if env["PEBBLE_AUTHZREUSE"] == nil { env["PEBBLE_AUTHZREUSE"] = "0" }
        if options.pebbleVANoSleep { env["PEBBLE_VA_NOSLEEP"] = env["PEBBLE_VA_NOSLEEP"] ?? "1" }
        processes.append(try LabProcess(name: "pebble", executable: pebble,
                                        arguments: ["-config", "\(dir)/pebble-config.json", "-dnsserver", resolver ?? secondary],
                                        environment: env, directory: dir))
    }

    private func zoneText(_ zone: String) -> String {
        var lines = [
            "$TTL 60",
            "@ \(options.negativeTTL) IN SOA ns1.\(zone). hostmaster.\(zone). ( 1 3600 600 86400 \(options.negativeTTL) )",
            "@ IN NS ns1.\(zone).",
            "@ IN NS ns2.\(zone).",
            "ns1 IN A 127.0.0.1",
            "ns2 IN A 127.0.0.1",
            "@ IN A 127.0.0.1",
        ]
        lines += options.extraRecords[zone] ?? []
        return lines.joined(separator: "\n") + "\n"
    }

    private func namedConf(role: String, controlPort: UInt16?) -> String {
        let dir = "\(directory)/\(role)"
        let listenPort = role == "primary" ? port : secondaryPort
        var common = Self.commonOptions(dir: dir, port: listenPort)
        if role == "primary" && options.primaryIPv6 {
            common = common.replacingOccurrences(of: "listen-on-v6 { none; };", with: "listen-on-v6 port \(port) { ::1; };")
        }
        var text = """
        options {
            \(common)
            recursion no;
            allow-query { any; };
            dnssec-validation no;
            allow-transfer { any; };
            notify-rate 1000;
            serial-query-rate 1000;
        };
        include "\(tsigKeyFile)";

        """
        text += "include \"\(directory)/rndc.key\";\n"
        text += "controls { inet 127.0.0.1 port \(controlPort ?? 953) allow { 127.0.0.1; } keys { \"rndc-key\"; }; };\n"
        // With a lag, the lab itself tells the secondary to refresh `secondaryLag` seconds after
        // each change (LagFollower): BIND's notify-delay is jittered (1.4–4.3 s measured for 5).
        let notify = options.secondaryLag == 0 ? "notify explicit; also-notify { 127.0.0.1 port \(secondaryPort); }; notify-delay 0;" : "notify no;"
        if role == "primary" {
            for zone in options.zones {
                text += """
                zone "\(zone)" {
                    type primary; file "\(zone).zone";
                    allow-update { key "\(tsigKeyName)"; };
                    \(notify)
                };

                """
            }
            for zone in options.fileZones {
                text += """
                zone "\(zone)" {
                    type primary; file "\(zone).zone";
                    \(notify)
                };

                """
            }
        } else {
            // A refresh that failed (its SOA query or transfer) is retried within 2 s, not after
            // the SOA's 600 s. Without a lag the secondary also polls the primary's SOA every
            // 1-2 s, as a real secondary's refresh timer backs up NOTIFY: once in CI a secondary
            // stayed a change behind for a test's whole 60 s (a missed NOTIFY; no log was
            // kept), which now costs 2 s. With a lag, no poll: the follower alone decides when.
            // The secondary notifies nobody: its NS names are 127.0.0.1, and port 53 there may be
            // another lab's secondary (`Options.secondaryPort`).
            let polling = options.secondaryLag == 0 ? " min-refresh-time 1; max-refresh-time 2;" : ""
            for zone in options.zones + options.fileZones {
                text += """
                zone "\(zone)" {
                    type secondary; file "\(zone).zone";
                    primaries { 127.0.0.1 port \(port); };
                    allow-notify { 127.0.0.1; };
                    notify no; min-retry-time 1; max-retry-time 2;\(polling)
                };

                """
            }
            for (zone, server) in secondaryZones.sorted(by: { $0.key < $1.key }) {
                let parts = server.split(separator: ":")
                text += """
                zone "\(zone)" {
                    type secondary; file "\(zone).zone";
                    primaries { \(parts[0]) port \(parts.count > 1 ? String(parts[1]) : "53"); };
                    notify no; min-retry-time 1; max-retry-time 2; min-refresh-time 1; max-refresh-time 2;
                };

                """
            }
        }
        return text
    }

    /// Zones the secondary transfers from servers outside the lab's BIND, by zone.
    private var secondaryZones: [String: String] {
        var zones = options.secondaryOf
        if let powerDNS { for zone in powerDNS.zones { zones[zone] = powerDNS.server } }
        return zones
    }

    /// The options every lab BIND has: its directory and files, one loopback port, no IPv6.
    static func commonOptions(dir: String, port: UInt16) -> String {
        """
        directory "\(dir)";
            listen-on port \(port) { 127.0.0.1; };
            listen-on-v6 { none; };
            pid-file "\(dir)/named.pid";
            session-keyfile "\(dir)/session.key";
            managed-keys-directory "\(dir)";
        """
    }

    /// A caching recursive resolver: the lab's zones are forwarded to the secondary (the server
    /// Pebble asks without a resolver), everything else fails; answers, negative ones included
    /// (RFC 2308), are cached as any resolver caches them.
    private func resolverConf(port: UInt16) -> String {
        let dir = "\(directory)/resolver"
        var text = """
        options {
            \(Self.commonOptions(dir: dir, port: port))
            recursion yes;
            allow-recursion { 127.0.0.1; };
            allow-query { 127.0.0.1; };
            allow-query-cache { 127.0.0.1; };
            dnssec-validation no;
            qname-minimization off;
        };

        """
        for zone in options.zones + options.fileZones {
            text += "zone \"\(zone)\" { type forward; forward only; forwarders { 127.0.0.1 port \(secondaryPort); }; };\n"
        }
        for (zone, server) in options.resolverForwards.sorted(by: { $0.key < $1.key }) {
            let parts = server.split(separator: ":")
            text += "zone \"\(zone)\" { type forward; forward only; forwarders { \(parts[0]) port \(parts.count > 1 ? String(parts[1]) : "53"); }; };\n"
        }
        return text
    }

    /// A complete dns01.toml for this lab.
    public func configTOML(stateDir: String) -> String {
        let zones = options.zones.map { "\"\($0)\"" }.joined(separator: ", ")
        var text = """
        [acme]
        directory = "\(pebbleDirectory)"
        ca_bundle = "\(pebbleCAFile)"
        email = "admin@example.test"
        agree_tos = true
        state_dir = "\(stateDir)"

        [dns]
        resolvers = ["\(resolver ?? primary)"]
        poll_interval = "250ms"
        propagation_timeout = "60s"

        [[provider]]
        name = "lab"
        type = "rfc2136"
        zones = [\(zones)]
        server = "\(primary)"
        tsig_key_file = "\(tsigKeyFile)"

        """
        for zone in options.zones + options.fileZones {
            text += """

            [[zone]]
            name = "\(zone)"
            nameservers = ["\(primary)", "\(secondary)"]

            """
        }
        return text
    }

    /// The TXT values at `name` as `server` ("127.0.0.1:PORT") serves them, read with dig.
    public func txtValues(_ name: String, at server: String) throws -> [String] {
        let parts = server.split(separator: ":")
        let result = try runCommand(which("dig") ?? "/usr/bin/dig",
                                    ["+short", "+norecurse", "+time=2", "+tries=2", "@\(parts[0])", "-p", String(parts[1]), "TXT", name])
        guard result.status == 0 else { throw LabError("dig @\(server) TXT \(name) failed: \(result.output)") }
        return result.output.split(separator: "\n").map { TestLab.unquote(String($0)) }.filter { !$0.isEmpty }.sorted()
    }

    /// Joins dig's quoted character-strings back into one value.
    static func unquote(_ line: String) -> String {
        var value = ""
        var inside = false
        var escaped = false
        for character in line {
            if escaped { value.append(character); escaped = false; continue }
            switch character {
            case "\\" where inside: escaped = true
            case "\"": inside.toggle()
            default: if inside { value.append(character) }
            }
        }
        return value
    }

    /// Runs `rndc` against the primary (e.g. ["reload", "example.test"]).
    public func rndc(_ arguments: [String]) throws -> String {
        guard let rndc = which("rndc"), let config = rndcConfigFile else { throw LabError("rndc is not installed") }
        let result = try runCommand(rndc, ["-c", config] + arguments)
        guard result.status == 0 else { throw LabError("rndc \(arguments.joined(separator: " ")) failed: \(result.output)") }
        return result.output
    }

    /// Stops every process the lab started and removes its directory. Safe to call twice.
    public func stop() {
        lock.lock()
        defer { lock.unlock() }
        guard !stopped else { return }
        stopped = true
        follower?.stop()
        // All signalled at once, then waited for: the stop takes the slowest server's time, not
        // the sum (it runs on the caller's thread, often one of the cooperative pool's two).
        for process in processes.reversed() { process.terminate() }
        let deadline = Date().addingTimeInterval(5)
        for process in processes.reversed() { process.finish(by: deadline) }
        powerDNS?.stop()
        if ProcessInfo.processInfo.environment["DNS01_KEEP_LAB"] == nil {
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    /// Pids of the running servers, by name.
    public var pids: [String: Int32] {
        Dictionary(processes.map { ($0.name, $0.pid) }, uniquingKeysWith: { a, _ in a })
    }

    deinit { stop() }

    private func answersSOA(_ zone: String, at server: String) throws -> Bool {
        let parts = server.split(separator: ":")
        let result = try runCommand(which("dig") ?? "/usr/bin/dig",
                                    ["+norecurse", "+time=1", "+tries=1", "@\(parts[0])", "-p", String(parts[1]), "SOA", zone])
        return result.output.contains("status: NOERROR") && result.output.contains(" aa")
    }

    func poll(until deadline: Date, _ what: String, _ check: @escaping @Sendable () throws -> Bool) async throws {
        while true {
            for process in processes where !process.isRunning {
                throw LabError("\(process.name) exited while waiting for \(what)")
            }
            // The check runs a child process: wait for it on a thread of its own, never on the
            // cooperative pool (one thread per core) that other tests need.
            let passed = await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: (try? check()) == true) }
            }
            if passed { return }
            guard Date() < deadline else { throw LabError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    private func logTail() -> String {
        processes.map { process -> String in
            let log = (try? String(contentsOfFile: "\(directory)/\(process.directoryName)/\(process.name).log", encoding: .utf8)) ?? ""
            return "\n--- \(process.name) ---\n" + log.split(separator: "\n").suffix(15).joined(separator: "\n")
        }.joined()
    }

    func write(_ text: String, to path: String, mode: Int) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }
}

extension LabProcess {
    var directoryName: String {
        switch name {
        case "cloudflare-api": "cloudflare"
        case "acme-dns-api": "acme-dns"
        case "google-api": "google"
        case "azure-api": "azure"
        case "route53-lab": "route53"
        case "named-primary": "primary"
        case "named-secondary": "secondary"
        case "named-resolver": "resolver"
        case "postgres": "postgresql"
        default: "pebble"
        }
    }
}
