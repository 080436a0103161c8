import ACME
import DNS01
import Foundation
import HTTP
import TestLab
import Testing

/// acme2certifier, the lab's second real CA: what Pebble 2.4 lacks (RFC 9773 renewalInfo,
/// certificate profiles, short lifetimes, dns-persist-01), exercised through the real `dns01`
/// against acme2certifier's openssl CA handler and the lab's BIND. The recorded-response unit
/// tests (RenewalInfoLookupTests, ACMEDepthTests) stay; these show the same against a CA.
@Suite("acme2certifier", .serialized)
struct ACME2CertifierTests {
    static let day: TimeInterval = 86400

    /// A lab without Pebble, with acme2certifier asking its secondary.
    func start(_ options: TestLab.ACME2CertifierOptions = .init()) async throws -> (TestLab, ACME2Certifier) {
        let lab = try await TestLab.start(.init(startPebble: false))
        do {
            return (lab, try await lab.startACME2Certifier(options))
        } catch {
            lab.stop()
            throw error
        }
    }

    /// The lab's config pointed at acme2certifier, with `certificates` ([[certificate]] TOML) added.
    func writeConfig(_ lab: TestLab, _ ca: ACME2Certifier, _ certificates: String = "", name: String = "dns01.toml") throws -> String {
        let path = "\(lab.directory)/\(name)"
        try (ca.configTOML(stateDir: "\(lab.directory)/state") + certificates).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `dns01 run --json`: its status, stderr, and each certificate's item by name.
    func run(_ config: String) async throws -> (status: Int32, stderr: String, items: [String: [String: Any]]) {
        let result = try await CLIRunner.run(["run", "-c", config, "--json"])
        let summary = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(summary != nil, "dns01 run printed no summary; status \(result.status), stderr: \(result.stderr)")
        let list = summary?["certificates"] as? [[String: Any]] ?? []
        var items: [String: [String: Any]] = [:]
        for item in list { if let name = item["name"] as? String { items[name] = item } }
        return (result.status, result.stderr, items)
    }

    /// notBefore and notAfter of a PEM certificate, read with openssl.
    func validity(ofCertificateAt path: String) throws -> (notBefore: Date, notAfter: Date) {
        let text = try runProcess("/usr/bin/openssl", ["x509", "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601", "-in", path]).stdout
        var dates: [String: Date] = [:]
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { dates[parts[0]] = formatter.date(from: parts[1]) }
        }
        return (try #require(dates["notBefore"], "\(text)"), try #require(dates["notAfter"], "\(text)"))
    }

    func lifetimeDays(_ path: String) throws -> Double {
        let (notBefore, notAfter) = try validity(ofCertificateAt: path)
        return notAfter.timeIntervalSince(notBefore) / Self.day
    }

    @Test func wildcardAndApexThroughDNS01() async throws {
        let (lab, ca) = try await start()
        defer { lab.stop() }
        let config = try writeConfig(lab, ca)
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let live = "\(lab.directory)/state/live/example.test"
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem") == ["*.example.test", "example.test"])
        // Signed by the CA the lab made for acme2certifier's openssl handler.
        let verify = try runProcess("/usr/bin/openssl", ["verify", "-CAfile", ca.issuingCACertificate, "\(live)/cert.pem"])
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        // Both authorizations were proven by dns-01, the one type dns01 answered.
        let answered = ca.requests().filter { $0.method == "POST" && $0.path.hasPrefix("/acme/chall/") }
        #expect(answered.count == 2)
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    /// RFC 9773: a certificate whose window lies ahead is left alone; once the CA moves the
    /// window into the past, the next run renews it for that reason and says what it replaces.
    /// The first certificate comes from the CA's clock set back two days, so a window that
    /// starts at issuance and lasts an hour is over by the time of the renewal run, whatever the
    /// random moment dns01 picks in it (§4.2).
    @Test func renewalInfoWindowIsHonoured() async throws {
        let (lab, ca) = try await start(.init(clockOffset: -2 * 86400))
        defer { lab.stop() }
        let config = try writeConfig(lab, ca, """

            [[certificate]]
            name = "ari"
            domains = ["ari.example.test"]

            """)
        let first = try await run(config)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        #expect(first.items["ari"]?["status"] as? String == "issued")

        // Window: 85 % into a 90-day lifetime, 74 days ahead. The lifetime rule waits 58 days.
        let second = try await run(config)
        #expect(second.status == 0, "stderr: \(second.stderr)")
        #expect(second.items["ari"]?["status"] as? String == "skipped")
        let asked = ca.requests().filter { $0.method == "GET" && $0.path.hasPrefix("/acme/renewal-info/") }
        #expect(asked.count == 1, "renewalInfo requests: \(asked.map(\.path))")
        let certificateID = try #require(asked.last?.path.split(separator: "/").last.map(String.init))

        // The window now starts at issuance and lasts an hour: it ended two days ago.
        var options = ca.options
        options.clockOffset = 0
        options.renewalThresholdPercent = 0
        options.renewalWindowDuration = "1h"
        try await ca.restart(options)
        let third = try await run(config)
        #expect(third.status == 0, "stderr: \(third.stderr)")
        #expect(third.items["ari"]?["status"] as? String == "issued")
        #expect(third.items["ari"]?["reason"] as? String == RenewalPlan.Reason.renewalWindow.rawValue)
        let orders = ca.requests().filter { $0.path == "/acme/neworders" }
        #expect(orders.count == 2)
        #expect(orders.first?.payload?["replaces"] == nil)
        #expect(orders.last?.payload?["replaces"] as? String == certificateID)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/archive/ari").sorted() == ["0001", "0002"])
    }

    /// draft-ietf-acme-profiles: the profile a certificate names decides its lifetime; one the
    /// CA does not list fails that certificate alone, naming what it offers.
    @Test func profilesDecideTheLifetime() async throws {
        let (lab, ca) = try await start(.init(validityDays: 30))
        defer { lab.stop() }
        let config = try writeConfig(lab, ca, """

            [[certificate]]
            name = "short"
            domains = ["short.example.test"]
            profile = "shortlived"

            [[certificate]]
            name = "long"
            domains = ["long.example.test"]
            profile = "default"

            [[certificate]]
            name = "plain"
            domains = ["plain.example.test"]

            """)
        let result = try await run(config)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let state = "\(lab.directory)/state/live"
        #expect(try lifetimeDays("\(state)/short/cert.pem") == 6)
        #expect(try lifetimeDays("\(state)/long/cert.pem") == 90)
        #expect(try lifetimeDays("\(state)/plain/cert.pem") == 30)
        let profiles = ca.requests().filter { $0.path == "/acme/neworders" }.map { $0.payload?["profile"] as? String ?? "-" }
        #expect(profiles.sorted() == ["-", "default", "shortlived"])

        let unknown = try writeConfig(lab, ca, """

            [[certificate]]
            name = "odd"
            domains = ["odd.example.test"]
            profile = "tlsserver"

            """, name: "unknown.toml")
        let refused = try await run(unknown)
        #expect(refused.status == 1)
        let error = refused.items["odd"]?["error"] as? String ?? ""
        #expect(error.contains("no profile 'tlsserver'") && error.contains("default, shortlived"), "\(error)")
        #expect(ca.requests().filter { $0.path == "/acme/neworders" }.count == 3, "no order for an unknown profile")
    }

    /// A 6-day certificate falls due with 3 days left (half its lifetime, as under 10 days):
    /// not on the next run, and on the first run after. The CA's clock set back 3 days 2 hours
    /// gives a 6-day certificate that old without waiting for one.
    @Test func sixDayCertificateRenewsByItsLifetime() async throws {
        let (lab, ca) = try await start(.init(clockOffset: -(3 * 86400 + 7200)))
        defer { lab.stop() }
        let config = try writeConfig(lab, ca, """

            [[certificate]]
            name = "short"
            domains = ["short.example.test"]
            profile = "shortlived"

            """)
        let live = "\(lab.directory)/state/live/short/cert.pem"
        let first = try await run(config)
        #expect(first.status == 0, "stderr: \(first.stderr)")
        let old = try validity(ofCertificateAt: live)
        #expect(old.notAfter.timeIntervalSince(old.notBefore) == 6 * Self.day)
        #expect(old.notAfter.timeIntervalSinceNow < 3 * Self.day)

        // The CA back on time; its renewal window (85 %) for the old certificate is still 2 days off.
        var options = ca.options
        options.clockOffset = 0
        try await ca.restart(options)
        let second = try await run(config)
        #expect(second.status == 0, "stderr: \(second.stderr)")
        #expect(second.items["short"]?["status"] as? String == "issued")
        #expect(second.items["short"]?["reason"] as? String == RenewalPlan.Reason.expiring.rawValue)
        let fresh = try validity(ofCertificateAt: live)
        #expect(fresh.notAfter.timeIntervalSince(fresh.notBefore) == 6 * Self.day)
        #expect(fresh.notBefore > old.notBefore.addingTimeInterval(3 * Self.day))

        let third = try await run(config)
        #expect(third.status == 0, "stderr: \(third.stderr)")
        #expect(third.items["short"]?["status"] as? String == "skipped")
        #expect(ca.requests().filter { $0.path == "/acme/neworders" }.count == 2)

        // The rule's edge on the fresh certificate, by the plan's own clock: due at 3 days left.
        let parsed = try Configuration.load(path: config)
        let plan = try #require(RenewalPlan.decide(parsed, force: false).first)
        let renewAt = try #require(plan.renewAt)
        #expect(abs(renewAt.timeIntervalSince(fresh.notAfter) + 3 * Self.day) < 1)
        #expect(RenewalPlan.decide(parsed, force: false, now: renewAt.addingTimeInterval(-60)).first?.reason == nil)
        #expect(RenewalPlan.decide(parsed, force: false, now: renewAt.addingTimeInterval(60)).first?.reason == .expiring)
    }

    /// Adds a TXT record at the lab's primary with nsupdate (not dns01's code) and waits until
    /// the secondary, the server acme2certifier asks, serves it.
    func addTXT(_ lab: TestLab, _ name: String, _ value: String) async throws {
        let script = "server 127.0.0.1 \(lab.port)\nupdate add \(name). 60 IN TXT \"\(value)\"\nsend\n"
        let result = try runProcess("/usr/bin/nsupdate", ["-k", lab.tsigKeyFile], stdin: script)
        #expect(result.status == 0, "nsupdate: \(result.stdout)\(result.stderr)")
        let deadline = Date().addingTimeInterval(30)
        while try !lab.txtValues(name, at: lab.secondary).contains(value) {
            guard Date() < deadline else { throw LabError("the secondary never served \(name) TXT \(value)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// draft-ietf-acme-dns-persist: acme2certifier offers dns-persist-01 beside dns-01 in each
    /// DNS authorization, wildcard included, naming the issuer domain names it was given, and
    /// validates it against a `_validation-persist` record naming the first of them and the
    /// account; a wildcard needs `policy=wildcard` in the record.
    @Test func authorizationOffersDNSPersist() async throws {
        let (lab, ca) = try await start(.init(issuerDomainNames: ["ca.lab.test", "acme.lab.test"]))
        defer { lab.stop() }
        let client = ACMEClient(directoryURL: ca.directoryURL, transport: CurlTransport(caBundle: ca.caBundle),
                                accountKey: try AccountKey.generate())
        let account = try await client.newAccount(contact: ["mailto:admin@example.test"], termsOfServiceAgreed: true).url
        let order = try await client.newOrder(identifiers: [.dns("*.example.test"), .dns("example.test"), .dns("*.www.example.test")])
        #expect(order.authorizations.count == 3)
        var persist: [String: Challenge] = [:]
        for url in order.authorizations {
            let authorization = try await client.authorization(at: url)
            #expect(authorization.challenges.map(\.type).sorted() == ["dns-01", "dns-persist-01"], "\(authorization.identifier)")
            let challenge = try #require(authorization.challenges.first { $0.type == "dns-persist-01" })
            #expect(challenge.issuerDomainNames == ["ca.lab.test", "acme.lab.test"])
            #expect(challenge.token == nil)
            persist[(authorization.wildcard == true ? "*." : "") + authorization.identifier.value] = challenge
        }

        try await addTXT(lab, "_validation-persist.example.test", "ca.lab.test; accounturi=\(account); policy=wildcard")
        try await addTXT(lab, "_validation-persist.www.example.test", "ca.lab.test; accounturi=\(account)")
        for name in ["*.example.test", "example.test", "*.www.example.test"] {
            _ = try await client.respond(to: try #require(persist[name], "\(persist.keys)"))
        }
        let deadline = ContinuousClock.now + .seconds(30)
        var statuses: [String: String] = [:]
        for url in order.authorizations {
            // Throws for the invalid one (the library's error names its dns-01 challenge); the
            // authorization read after it says which challenge failed.
            _ = try? await client.waitForAuthorization(at: url, deadline: deadline)
            let authorization = try await client.authorization(at: url)
            let name = (authorization.wildcard == true ? "*." : "") + authorization.identifier.value
            statuses[name] = authorization.status.rawValue
            #expect(authorization.challenges.first { $0.type == "dns-persist-01" }?.status == authorization.status.rawValue)
        }
        #expect(statuses == ["*.example.test": "valid", "example.test": "valid", "*.www.example.test": "invalid"])
    }

    /// The zone's SOA serial at a server: changes with every record written.
    func serial(_ lab: TestLab, at server: String) throws -> String {
        let parts = server.split(separator: ":")
        let result = try runProcess("/usr/bin/dig", ["+short", "-p", String(parts[1]), "@\(parts[0])", "example.test", "SOA"])
        return try #require(result.stdout.split(separator: " ").dropFirst(2).first.map(String.init), "dig: \(result.stdout)\(result.stderr)")
    }

    /// Issue 17: `dns01 persist` sets `_validation-persist` once (policy=wildcard, the CA's
    /// issuer domain from its directory's caaIdentities); afterwards `dns01 run` gets a wildcard
    /// + apex certificate through dns-persist-01 without writing a single record (the zone's
    /// serial stays) and without a propagation wait, while the secondary the CA asks lags 3 s.
    /// Without the record, the same run falls back to dns-01 and waits for the lag.
    @Test func wildcardAndApexByDNSPersistWriteNothing() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 3, startPebble: false))
        defer { lab.stop() }
        let ca = try await lab.startACME2Certifier(.init())
        let config = try writeConfig(lab, ca, """

            [[certificate]]
            name    = "persisted"
            domains = ["*.example.test", "example.test"]

            [[certificate]]
            name    = "fallback"
            domains = ["*.www.example.test", "www.example.test"]
            """)
        let persist = try await CLIRunner.run(["persist", "-c", config, "-d", "example.test", "--wildcard", "--json"])
        #expect(persist.status == 0, "stderr: \(persist.stderr)")
        let served = try lab.txtValues("_validation-persist.example.test", at: lab.secondary)
        #expect(served.count == 1 && served[0].hasPrefix("ca.lab.test; accounturi=https://") && served[0].hasSuffix("; policy=wildcard"), "\(served)")

        // Only the persisted certificate is due: the zone must not change while it is issued.
        let only = try writeConfig(lab, ca, """

            [[certificate]]
            name    = "persisted"
            domains = ["*.example.test", "example.test"]
            """, name: "persisted.toml")
        let before = try serial(lab, at: lab.primary)
        let started = ContinuousClock.now
        let run = try await CLIRunner.run(["run", "-c", only])
        let persistedWall = ContinuousClock.now - started
        #expect(run.status == 0, "stderr: \(run.stderr)")
        #expect(run.stderr.contains("persisted: 2 name(s) validated by their dns-persist-01 record, no record needed"), "stderr: \(run.stderr)")
        #expect(!run.stderr.contains("waiting for"), "stderr: \(run.stderr)")
        #expect(try serial(lab, at: lab.primary) == before)
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/persisted/cert.pem") == ["*.example.test", "example.test"])
        // Nothing was journaled (there was nothing to clean up).
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: "\(lab.directory)/state/journal")) ?? []).filter { $0.hasSuffix(".json") }.isEmpty)

        // www has no record of its own (a parent's policy=wildcard is not relied on): dns-01, with its wait.
        let started2 = ContinuousClock.now
        let fallback = try await CLIRunner.run(["run", "-c", config])
        let fallbackWall = ContinuousClock.now - started2
        #expect(fallback.status == 0, "stderr: \(fallback.stderr)")
        #expect(fallback.stderr.contains("waiting for 2 value(s)"), "stderr: \(fallback.stderr)")
        #expect(try serial(lab, at: lab.primary) != before)
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/fallback/cert.pem") == ["*.www.example.test", "www.example.test"])
        print("dns-persist-01 run \(persistedWall), dns-01 run \(fallbackWall) at a 3 s lag")
    }
}
