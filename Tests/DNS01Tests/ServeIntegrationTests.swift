import Foundation
import Testing
import TestLab

/// `dns01 serve` in the lab: real HTTP clients (curl, lego) against the served acme-dns API,
/// the registrations' zone `auth.test` written through the lab's RFC 2136 provider into BIND.
@Suite("dns01 serve: the acme-dns API", .serialized)
struct ServeIntegrationTests {
    struct Registration: Decodable, Sendable {
        var username, password, fulldomain, subdomain: String
        var allowfrom: [String]
    }

    struct Reply: Sendable {
        var status: Int
        var body: String
    }

    static let zone = "auth.test"

    /// The lab with `auth.test` beside `example.test`, and `dns01 serve` for `auth.test`.
    static func start(lag: Int = 0, pebble: Bool = false, extra: String = "") async throws -> (TestLab, TestLab.ServeProcess) {
        let lab = try await TestLab.start(.init(zones: ["example.test", zone], secondaryLag: lag, startPebble: pebble))
        do {
            let serve = try await lab.startServe(executable: CLIRunner.executable) { port in
                lab.configTOML(stateDir: "\(lab.directory)/serve-state") + """

                [serve]
                listen = "127.0.0.1:\(port)"
                zone = "\(zone)"
                provider = "lab"
                allow_register = true
                bcrypt_cost = 4
                \(extra)
                """
            }
            return (lab, serve)
        } catch {
            lab.stop()
            throw error
        }
    }

    /// One request with curl; `body` goes as is.
    static func call(_ serve: TestLab.ServeProcess, _ path: String, headers: [String: String] = [:], body: String? = nil) async throws -> Reply {
        var arguments = ["-s", "--max-time", "120", "-o", "-", "-w", "\n%{http_code}", "-X", "POST", "\(serve.baseURL)\(path)"]
        if let caFile = serve.caFile { arguments += ["--cacert", caFile] }
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { arguments += ["-H", "\(name): \(value)"] }
        if body != nil { arguments += ["-H", "Content-Type: application/json", "--data-binary", "@-"] }
        let fixed = arguments
        let result = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runProcess("/usr/bin/curl", fixed, stdin: body) })
            }
        }
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return Reply(status: Int(lines.last ?? "") ?? 0, body: lines.dropLast().joined(separator: "\n"))
    }

    static func register(_ serve: TestLab.ServeProcess, allowFrom: [String]? = nil) async throws -> Registration {
        let body = allowFrom.map { #"{"allowfrom": [\#($0.map { "\"\($0)\"" }.joined(separator: ","))]}"# }
        let reply = try await call(serve, "/register", body: body)
        #expect(reply.status == 201, "register: \(reply.body)")
        return try JSONDecoder().decode(Registration.self, from: Data(reply.body.utf8))
    }

    static func update(_ serve: TestLab.ServeProcess, _ registration: Registration, subdomain: String? = nil, txt: String,
                       key: String? = nil) async throws -> Reply {
        try await call(serve, "/update", headers: ["X-Api-User": registration.username, "X-Api-Key": key ?? registration.password],
                       body: #"{"subdomain": "\#(subdomain ?? registration.subdomain)", "txt": "\#(txt)"}"#)
    }

    static func value(_ seed: Int) -> String {
        String(String(repeating: "v\(seed)x", count: 20).prefix(43))
    }

    static func counter(_ serve: TestLab.ServeProcess, _ name: String) async throws -> Int {
        let result = try runProcess("/usr/bin/curl", ["-s", "--max-time", "5", "\(serve.baseURL)/metrics"])
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("\(name) ") }
        return Int(line?.split(separator: " ").last ?? "") ?? -1
    }

    /// Each hostile request gets acme-dns's 4xx and its JSON error, and nothing reaches BIND.
    @Test func hostileInputWritesNothing() async throws {
        let (lab, serve) = try await Self.start()
        defer { lab.stop() }
        let mine = try await Self.register(serve)
        let other = try await Self.register(serve)
        let fenced = try await Self.register(serve, allowFrom: ["192.0.2.0/24"])
        #expect(fenced.allowfrom == ["192.0.2.0/24"])
        let good = Self.value(1)
        let cases: [(String, Reply, Int, String)] = [
            ("wrong key", try await Self.update(serve, mine, txt: good, key: String(repeating: "k", count: 40)), 401, #"{"error":"forbidden"}"#),
            ("no key", try await Self.call(serve, "/update", headers: ["X-Api-User": mine.username],
                                           body: #"{"subdomain": "\#(mine.subdomain)", "txt": "\#(good)"}"#), 401, #"{"error":"forbidden"}"#),
            ("unknown user", try await Self.update(serve, Registration(username: UUID().uuidString.lowercased(), password: mine.password,
                                                                        fulldomain: "", subdomain: mine.subdomain, allowfrom: []), txt: good),
             401, #"{"error":"forbidden"}"#),
            ("other subdomain", try await Self.update(serve, mine, subdomain: other.subdomain, txt: good), 401, #"{"error":"forbidden"}"#),
            ("txt of 42", try await Self.update(serve, mine, txt: String(good.dropLast())), 400, #"{"error":"bad_txt"}"#),
            ("txt base64", try await Self.update(serve, mine, txt: String(good.dropLast(2)) + "+="), 400, #"{"error":"bad_txt"}"#),
            ("txt with quote", try await Self.update(serve, mine, txt: String(good.dropLast()) + "\\\""), 400, #"{"error":"bad_txt"}"#),
            ("malformed json", try await Self.call(serve, "/update", headers: ["X-Api-User": mine.username, "X-Api-Key": mine.password],
                                                   body: "{\"subdomain\": "), 400, #"{"error":"malformed_json_payload"}"#),
            ("oversized body", try await Self.call(serve, "/update", headers: ["X-Api-User": mine.username, "X-Api-Key": mine.password],
                                                   body: #"{"subdomain": "\#(mine.subdomain)", "txt": "\#(good)", "pad": "\#(String(repeating: "x", count: 10_000))"}"#),
             413, #"{"error":"request_too_large"}"#),
            ("allowfrom violated", try await Self.update(serve, fenced, txt: good), 401, #"{"error":"forbidden"}"#),
            ("bad allowfrom", try await Self.call(serve, "/register", body: #"{"allowfrom": ["192.0.2.0/33"]}"#), 400, #"{"error":"invalid_allowfrom_cidr"}"#),
        ]
        for (what, reply, status, body) in cases {
            #expect(reply.status == status, "\(what): \(reply.status) \(reply.body)")
            #expect(reply.body == body, "\(what)")
        }
        for registration in [mine, other, fenced] {
            #expect(try lab.txtValues(registration.fulldomain, at: lab.primary).isEmpty)
        }
        let log = try String(contentsOfFile: serve.log, encoding: .utf8)
        #expect(log.contains("may write only \(mine.subdomain), not another subdomain"))
        #expect(!log.contains(mine.password))
    }

    /// /update answers only once the lagging secondary serves the value; the two most recent
    /// values stay; concurrent updates become one provider write.
    @Test func updateWaitsKeepsTwoAndBatches() async throws {
        let (lab, serve) = try await Self.start(lag: 3, extra: "batch_window = \"500ms\"")
        defer { lab.stop() }
        let registration = try await Self.register(serve)
        for seed in 1...3 {
            let reply = try await Self.update(serve, registration, txt: Self.value(seed))
            #expect(reply.status == 200, "\(reply.body)")
            #expect(reply.body == #"{"txt":"\#(Self.value(seed))"}"#)
            // Asked right after the answer: the secondary lags the primary by 3 s.
            #expect(try lab.txtValues(registration.fulldomain, at: lab.secondary).contains(Self.value(seed)))
        }
        #expect(try lab.txtValues(registration.fulldomain, at: lab.primary).sorted() == [Self.value(2), Self.value(3)].sorted())

        var many: [Registration] = []
        for _ in 0..<6 { many.append(try await Self.register(serve)) }
        // Verified once each (bcrypt), so the concurrent round below arrives inside one window.
        for (index, registration) in many.enumerated() { _ = try await Self.update(serve, registration, txt: Self.value(10 + index)) }
        let before = try await Self.counter(serve, "dns01_serve_provider_writes_total")
        let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
            for (index, registration) in many.enumerated() {
                group.addTask { try await Self.update(serve, registration, txt: Self.value(20 + index)) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(replies.allSatisfy { $0.status == 200 }, "\(replies.map(\.body))")
        let after = try await Self.counter(serve, "dns01_serve_provider_writes_total")
        // One present for the batch (each registration now holds two values: nothing removed).
        #expect(after - before == 1)

        // SIGTERM while an update waits for the lagging secondary: the update is still answered
        // (graceful shutdown), then serve exits.
        let last = Self.value(99)
        let first = many[0]
        let pendingReply = Task { try await Self.update(serve, first, txt: last) }
        let deadline = Date().addingTimeInterval(30)
        while try !lab.txtValues(many[0].fulldomain, at: lab.primary).contains(last) {
            guard Date() < deadline else { throw LabError("the primary never served the update") }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(kill(serve.pid, SIGTERM) == 0)
        let reply = try await pendingReply.value
        #expect(reply.status == 200, "\(reply.body)")
        #expect(try lab.txtValues(many[0].fulldomain, at: lab.secondary).contains(last))
        while kill(serve.pid, 0) == 0 {
            guard Date() < deadline else { Issue.record("dns01 serve still runs after SIGTERM"); break }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// certbot (Debian's) issues `*.example.test` and `example.test` through Pebble with an acme-dns
/// client library from PyPI (pyacmedns, what certbot-dns-acmedns uses: .venv-serve, made by
/// scripts/lib.sh's ensure_serve_venv) as its auth hook, the challenge CNAMEd to a `dns01 serve`
/// registration. Pebble asks the lab's resolver, which follows the CNAME and asks only the
/// secondary, which lags the primary by 5 s: validation
/// passes only because /update answered once the value was served there. (Debian's lego is
/// built without its acme-dns provider: "unrecognized DNS provider: acme-dns".)
@Suite("dns01 serve with a real acme-dns client", .serialized)
struct ServeClientTests {
    @Test func certbotThroughPyacmednsIssuesWildcardAndApex() async throws {
        let python = DocSnippetTests.repository + "/.venv-serve/bin/python"
        try #require(FileManager.default.isExecutableFile(atPath: python), "\(python) is missing: run scripts/test (ensure_serve_venv)")
        let client = DocSnippetTests.repository + "/Tests/Support/acmedns-client.py"
        let lab = try await TestLab.start(.init(zones: ["example.test", ServeIntegrationTests.zone], secondaryLag: 5,
                                                pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"], resolver: true))
        defer { lab.stop() }
        let serve = try await lab.startServe(executable: CLIRunner.executable) { port in
            lab.configTOML(stateDir: "\(lab.directory)/serve-state") + """

            [serve]
            listen = "127.0.0.1:\(port)"
            zone = "\(ServeIntegrationTests.zone)"
            provider = "lab"
            allow_register = true
            """
        }
        var environment = ProcessInfo.processInfo.environment
        environment["ACMEDNS_URL"] = serve.baseURL
        environment["ACMEDNS_STORAGE"] = "\(lab.directory)/acmedns.json"
        let registered = try await runProcessOffPool(python, [client, "register", "example.test"], environment: environment)
        #expect(registered.status == 0, "\(registered.stderr)")
        let fulldomain = registered.stdout.filter { !$0.isWhitespace }
        #expect(fulldomain.hasSuffix(".\(ServeIntegrationTests.zone)"))
        let script = "server 127.0.0.1 \(lab.port)\nupdate add _acme-challenge.example.test. 60 IN CNAME \(fulldomain).\nsend\n"
        let added = try runProcess("/usr/bin/nsupdate", ["-k", lab.tsigKeyFile], stdin: script)
        #expect(added.status == 0, "nsupdate: \(added.stdout)\(added.stderr)")
        let deadline = Date().addingTimeInterval(30)
        while try !runProcess("/usr/bin/dig", ["+short", "+norecurse", "@127.0.0.1", "-p", String(lab.secondaryPort), "CNAME", "_acme-challenge.example.test"])
            .stdout.contains(fulldomain) {
            guard Date() < deadline else { throw LabError("the secondary never served the CNAME") }
            try await Task.sleep(for: .milliseconds(100))
        }
        environment["REQUESTS_CA_BUNDLE"] = lab.pebbleCAFile
        let dir = "\(lab.directory)/certbot"
        let start = Date()
        let issued = try await runProcessOffPool("/usr/bin/certbot", [
            "certonly", "--non-interactive", "--config-dir", "\(dir)/config", "--work-dir", "\(dir)/work", "--logs-dir", "\(dir)/logs",
            "--server", lab.pebbleDirectory, "--agree-tos", "--register-unsafely-without-email",
            "--manual", "--preferred-challenges", "dns", "--cert-name", "served",
            "--manual-auth-hook", "\(python) \(client)", "-d", "*.example.test", "-d", "example.test",
        ], environment: environment)
        let seconds = Date().timeIntervalSince(start)
        #expect(issued.status == 0, "certbot: \(issued.stdout)\(issued.stderr) dig: \((try? runProcess("/usr/bin/dig", ["+norecurse", "@127.0.0.1", "-p", String(lab.secondaryPort), "TXT", "_acme-challenge.example.test"]).stdout) ?? "")")
        print("certbot through dns01 serve at lag 5: \(Int(seconds * 1000)) ms")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(dir)/config/live/served/cert.pem") == ["*.example.test", "example.test"])
        // Both values side by side: the two most recent of the registration.
        #expect(try lab.txtValues(fulldomain, at: lab.primary).count == 2)
    }
}

/// certbot-dns-acmedns 0.1.0, the acme-dns plugin on PyPI (in certbot 1.32.0, the last certbot
/// it loads in: .venv-serve), issues `*.example.test` and `example.test` through Pebble with the
/// plugin's documented credentials file (api-url and its registration file), the registration
/// made beforehand as its README says. Its propagation wait is set to 0 s: at lag 5 the CA's
/// validation passes only because dns01 serve answered /update once the secondary served the value.
@Suite("dns01 serve with certbot's acme-dns plugin", .serialized)
struct ServeCertbotPluginTests {
    @Test func certbotDNSAcmednsIssuesWildcardAndApex() async throws {
        let venv = DocSnippetTests.repository + "/.venv-serve/bin"
        try #require(FileManager.default.isExecutableFile(atPath: "\(venv)/certbot"), "\(venv)/certbot is missing: run scripts/test (ensure_serve_venv)")
        let client = DocSnippetTests.repository + "/Tests/Support/acmedns-client.py"
        let lab = try await TestLab.start(.init(zones: ["example.test", ServeIntegrationTests.zone], secondaryLag: 5,
                                                pebbleEnv: ["PEBBLE_WFE_NONCEREJECT": "0"], resolver: true))
        defer { lab.stop() }
        let serve = try await lab.startServe(executable: CLIRunner.executable) { port in
            lab.configTOML(stateDir: "\(lab.directory)/serve-state") + """

            [serve]
            listen = "127.0.0.1:\(port)"
            zone = "\(ServeIntegrationTests.zone)"
            provider = "lab"
            allow_register = true
            """
        }
        // The plugin's registration file ({"example.test": {username, password, fulldomain, …}}),
        // written by pyacmedns's Storage as the plugin itself would.
        let registrations = "\(lab.directory)/acmedns-registrations.json"
        var environment = ProcessInfo.processInfo.environment
        environment["ACMEDNS_URL"] = serve.baseURL
        environment["ACMEDNS_STORAGE"] = registrations
        let registered = try await runProcessOffPool("\(venv)/python", [client, "register", "example.test"], environment: environment)
        #expect(registered.status == 0, "\(registered.stderr)")
        let fulldomain = registered.stdout.filter { !$0.isWhitespace }
        let script = "server 127.0.0.1 \(lab.port)\nupdate add _acme-challenge.example.test. 60 IN CNAME \(fulldomain).\nsend\n"
        let added = try runProcess("/usr/bin/nsupdate", ["-k", lab.tsigKeyFile], stdin: script)
        #expect(added.status == 0, "nsupdate: \(added.stdout)\(added.stderr)")
        let deadline = Date().addingTimeInterval(30)
        while try !runProcess("/usr/bin/dig", ["+short", "+norecurse", "@127.0.0.1", "-p", String(lab.secondaryPort), "CNAME", "_acme-challenge.example.test"])
            .stdout.contains(fulldomain) {
            guard Date() < deadline else { throw LabError("the secondary never served the CNAME") }
            try await Task.sleep(for: .milliseconds(100))
        }
        let credentials = "\(lab.directory)/acmedns.ini"
        try "dns_acmedns_api_url = \(serve.baseURL)\ndns_acmedns_registration_file = \(registrations)\n"
            .write(toFile: credentials, atomically: true, encoding: .utf8)
        chmod(credentials, 0o600)
        var certbotEnvironment = ProcessInfo.processInfo.environment
        certbotEnvironment["REQUESTS_CA_BUNDLE"] = lab.pebbleCAFile
        let dir = "\(lab.directory)/certbot"
        let start = Date()
        let issued = try await runProcessOffPool("\(venv)/certbot", [
            "certonly", "--non-interactive", "--config-dir", "\(dir)/config", "--work-dir", "\(dir)/work", "--logs-dir", "\(dir)/logs",
            "--server", lab.pebbleDirectory, "--agree-tos", "--register-unsafely-without-email",
            "--authenticator", "dns-acmedns", "--dns-acmedns-credentials", credentials, "--dns-acmedns-propagation-seconds", "0",
            "--cert-name", "plugin", "-d", "*.example.test", "-d", "example.test",
        ], environment: certbotEnvironment)
        let seconds = Date().timeIntervalSince(start)
        #expect(issued.status == 0, "certbot: \(issued.stdout)\(issued.stderr)")
        print("certbot 1.32.0 with certbot-dns-acmedns through dns01 serve at lag 5: \(Int(seconds * 1000)) ms")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(dir)/config/live/plugin/cert.pem") == ["*.example.test", "example.test"])
        #expect(try lab.txtValues(fulldomain, at: lab.primary).count == 2)
    }
}

/// The registrations' zone behind the Cloudflare stand-in instead of RFC 2136: the same API,
/// each update answered once the lagging secondary serves it, wildcard and apex values side by side.
@Suite("dns01 serve through Cloudflare's API", .serialized)
struct ServeCloudflareTests {
    @Test func updatesThroughCloudflare() async throws {
        let zone = ServeIntegrationTests.zone
        let lab = try await TestLab.start(.init(zones: ["example.test", zone], secondaryLag: 2, startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startCloudflareAPI(zones: [zone])
        let serve = try await lab.startServe(executable: CLIRunner.executable) { port in
            let text = lab.configTOML(stateDir: "\(lab.directory)/serve-state")
            let start = text.range(of: "[[provider]]")!.lowerBound, end = text.range(of: "[[zone]]")!.lowerBound
            return String(text[..<start]) + """
                [[provider]]
                name = "cf"
                type = "cloudflare"
                zones = ["\(zone)"]
                api_token_file = "\(api.tokenFile)"
                api_url = "\(api.baseURL)"

                """ + String(text[end...]) + """

                [serve]
                listen = "127.0.0.1:\(port)"
                zone = "\(zone)"
                provider = "cf"
                allow_register = true
                bcrypt_cost = 4
                """
        }
        let registration = try await ServeIntegrationTests.register(serve)
        for seed in 1...3 {
            let reply = try await ServeIntegrationTests.update(serve, registration, txt: ServeIntegrationTests.value(seed))
            #expect(reply.status == 200, "\(reply.body)")
            #expect(try lab.txtValues(registration.fulldomain, at: lab.secondary).contains(ServeIntegrationTests.value(seed)))
        }
        #expect(try lab.txtValues(registration.fulldomain, at: lab.primary).sorted()
                == [ServeIntegrationTests.value(2), ServeIntegrationTests.value(3)].sorted())
        #expect(try api.requests().values.reduce(0, +) > 0)
    }
}
