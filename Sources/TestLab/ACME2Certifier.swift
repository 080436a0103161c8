import Foundation

/// The lab's acme2certifier: where it answers, what it trusts, and what it was asked.
public final class ACME2Certifier: @unchecked Sendable {
    public let directory: String
    public let port: UInt16
    public private(set) var options: TestLab.ACME2CertifierOptions
    /// Seconds from starting gunicorn to the first directory answer, last (re)start.
    public private(set) var startSeconds: Double = 0
    private let lab: TestLab
    private var process: LabProcess?

    public var directoryURL: String { "https://127.0.0.1:\(port)/directory" }
    /// The CA bundle that trusts its HTTPS (`[acme] ca_bundle`).
    public var caBundle: String { "\(directory)/tls-cert.pem" }
    /// The issuing CA's certificate (the chain's last element).
    public var issuingCACertificate: String { "\(directory)/ca/ca-cert.pem" }
    public var database: String { "\(directory)/acme_srv.db" }
    public var configFile: String { "\(directory)/acme_srv.cfg" }
    public var logFile: String { "\(directory)/acme2certifier.log" }
    public var requestLog: String { "\(directory)/requests.jsonl" }
    public var pid: Int32? { process?.pid }

    init(lab: TestLab, directory: String, port: UInt16, options: TestLab.ACME2CertifierOptions) {
        self.lab = lab
        self.directory = directory
        self.port = port
        self.options = options
    }

    /// One ACME request as it arrived.
    public struct Request: Sendable {
        public var method: String
        public var path: String
        /// The JWS payload as the client sent it (JSON text; "" for POST-as-GET, nil for GET/HEAD).
        public var payloadJSON: String?

        /// The JWS payload's members, when it is a JSON object.
        public var payload: [String: Any]? {
            payloadJSON.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
    }

    /// Every request so far, in order.
    public func requests() -> [Request] {
        let text = (try? String(contentsOfFile: requestLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            var payload: String?
            if let text = object["payload"] as? String {
                payload = text
            } else if let member = object["payload"], !(member is NSNull),
                      let data = try? JSONSerialization.data(withJSONObject: member, options: [.sortedKeys]) {
                payload = String(decoding: data, as: UTF8.self)
            }
            return Request(method: object["method"] as? String ?? "", path: object["path"] as? String ?? "", payloadJSON: payload)
        }
    }

    /// The lab's dns01.toml (`TestLab.configTOML`) pointed at acme2certifier instead of Pebble.
    public func configTOML(stateDir: String) -> String {
        lab.configTOML(stateDir: stateDir)
            .replacingOccurrences(of: "directory = \"\(lab.pebbleDirectory)\"", with: "directory = \"\(directoryURL)\"")
            .replacingOccurrences(of: "ca_bundle = \"\(lab.pebbleCAFile)\"", with: "ca_bundle = \"\(caBundle)\"")
    }

    /// Stops it and starts it again with `options` (its acme_srv.cfg is read once at start),
    /// keeping its database, CA and port: accounts, orders and certificates stay.
    public func restart(_ options: TestLab.ACME2CertifierOptions) async throws {
        stop()
        self.options = options
        try await launch()
    }

    /// SIGTERM to gunicorn's master (which stops its worker), SIGKILL after 5 s.
    public func stop() {
        process?.stop()
    }

    func launch() async throws {
        let gunicorn = "\(TestLab.acme2certifierVirtualenv)/bin/gunicorn"
        guard FileManager.default.isExecutableFile(atPath: gunicorn) else {
            throw LabError("no virtualenv with acme2certifier at \(TestLab.acme2certifierVirtualenv): run ./scripts/test, which creates it (or set DNS01_A2C_VENV)")
        }
        let dnsServer = lab.resolver ?? lab.secondary
        let parts = dnsServer.split(separator: ":")
        try lab.write(config(dnsAddress: String(parts[0])), to: configFile, mode: 0o600)
        var environment = [
            "ACME_SRV_CONFIGFILE": configFile, "ACME2CERTIFIER_BASE_DIR": directory,
            "A2C_LAB_DNS_PORT": parts.count > 1 ? String(parts[1]) : "53", "A2C_LAB_REQUEST_LOG": requestLog,
            "PYTHONDONTWRITEBYTECODE": "1",
        ]
        if options.clockOffset != 0 {
            guard let library = Self.libfaketime else {
                throw LabError("libfaketime is not installed (for acme2certifier's clock offset): apt-get install libfaketime")
            }
            environment["LD_PRELOAD"] = library
            environment["FAKETIME"] = options.clockOffset > 0 ? "+\(options.clockOffset)" : "\(options.clockOffset)"
        }
        let started = ContinuousClock.now
        // gunicorn, not acme2certifier's own wsgiref server (plain HTTP) or Django's runserver
        // (plain HTTP, needs a Django project): it serves any WSGI app over TLS by itself
        // (--certfile/--keyfile), is pure Python from PyPI, and runs in the foreground with no
        // system service. One worker, so one process holds the SQLite database; threads, so
        // dns01's concurrent requests do not queue behind a validation. --no-control-socket: it
        // would otherwise create ~/.gunicorn/gunicorn.ctl, shared by every lab on the machine.
        let process = try LabProcess(name: "acme2certifier", executable: gunicorn, arguments: [
            "--no-control-socket", "--bind", "127.0.0.1:\(port)",
            "--certfile", caBundle, "--keyfile", "\(directory)/tls-key.pem",
            "--workers", "1", "--worker-class", "gthread", "--threads", "8",
            "--graceful-timeout", "2", "--timeout", "120",
            "--pythonpath", TestLab.supportDirectory, "--chdir", directory,
            "acme2certifier_lab:application",
        ], environment: environment, directory: directory)
        self.process = process
        lab.processes.append(process)
        let deadline = Date().addingTimeInterval(60)
        while true {
            guard process.isRunning else {
                let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
                throw LabError("acme2certifier exited at start:\n" + log.split(separator: "\n").suffix(20).joined(separator: "\n"))
            }
            let answered = await withCheckedContinuation { continuation in
                Thread.detachNewThread { [caBundle, directoryURL] in
                    let result = try? runCommand("/usr/bin/curl", ["-s", "--max-time", "2", "--cacert", caBundle, directoryURL])
                    continuation.resume(returning: result?.output.contains("newNonce") == true)
                }
            }
            if answered { break }
            guard Date() < deadline else { throw LabError("timed out waiting for acme2certifier at \(directoryURL)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        let elapsed = ContinuousClock.now - started
        startSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Debian's libfaketime for threaded programs, for this machine's architecture.
    static var libfaketime: String? {
        let lib = "/usr/lib"
        let triples = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return triples.sorted().map { "\(lib)/\($0)/faketime/libfaketimeMT.so.1" }
            .first { FileManager.default.fileExists(atPath: $0) }
    }

    /// acme_srv.cfg (acme2certifier's INI format).
    func config(dnsAddress: String) -> String {
        let profiles = options.profiles.map { "\(json($0.name)): \(json($0.description))" }.joined(separator: ", ")
        let handlers = options.profiles.map { "\(json($0.name)): \(json("profile-\($0.name)"))" }.joined(separator: ", ")
        var text = """
        [DEFAULT]
        debug: False
        server_name: 127.0.0.1:\(port)
        dns_server_list: [\(json(dnsAddress))]

        [Nonce]
        nonce_check_disable: False

        [Directory]
        caaidentities: [\(options.issuerDomainNames.map(json).joined(separator: ", "))]

        [DBhandler]
        handler: wsgi
        dbfile: \(database)

        [Challenge]
        challenge_validation_disable: False
        http_01_support: False
        tls_alpn_01_support: False
        dns_01_support: True
        dns_persist_01_support: \(options.dnsPersist ? "True" : "False")
        dns_persist_allow_policy_wildcard: \(options.allowPolicyWildcard ? "True" : "False")

        [Order]
        profiles: {\(profiles)}
        profiles_check_disable: False
        profile_cahandler: {\(handlers)}

        [Renewalinfo]
        renewalinfo_disable: \(options.renewalInfoDisabled ? "True" : "False")
        renewalthreshold_pctg: \(options.renewalThresholdPercent)
        renewal_force: \(options.renewalForce ? "True" : "False")
        retry_after_timeout: \(options.renewalInfoRetryAfter)

        """
        if let duration = options.renewalWindowDuration { text += "renewal_window_duration: \(duration)\n" }
        text += """

        [CAhandler]
        multi_handler: True
        default_handler: lab-default

        """
        text += handlerSection("lab-default", validityDays: options.validityDays)
        for profile in options.profiles {
            text += handlerSection("profile-\(profile.name)", validityDays: profile.validityDays)
        }
        return text
    }

    private func handlerSection(_ name: String, validityDays: Int) -> String {
        """

        [CAhandler:\(name)]
        handler_module: acme2certifier.cahandlers.openssl_ca_handler
        issuing_ca_key: \(directory)/ca/ca-key.pem
        issuing_ca_cert: \(directory)/ca/ca-cert.pem
        issuing_ca_crl: \(directory)/ca/crl.pem
        cert_save_path: \(directory)/certs
        cert_validity_days: \(validityDays)

        """
    }

    private func json(_ text: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: text, options: [.fragmentsAllowed])) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
