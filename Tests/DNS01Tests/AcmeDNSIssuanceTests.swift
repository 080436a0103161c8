import Foundation
import Testing
import TestLab

/// Issue 28: `type = "acme-dns"` through the dns01 CLI: `_acme-challenge.example.test` is a CNAME
/// to an acme-dns registration's fulldomain in acme.test, dns01 follows it, writes both values
/// through the acme-dns stand-in, waits for them at acme.test's servers, and Pebble validates
/// through the CNAME at the lab's secondary.
@Suite("acme-dns provider: issuance") struct AcmeDNSIssuanceTests {
    /// Registers at the stand-in, writes the registration file (0600, with `password` if given)
    /// and the CNAME, waits until the secondary serves the CNAME; returns the config's path.
    static func setUp(_ lab: TestLab, _ api: TestLab.AcmeDNSAPI, password: String? = nil) async throws -> String {
        var registration = try api.register()
        let fulldomain = try #require(registration["fulldomain"] as? String)
        if let password { registration["password"] = password }
        let file = "\(lab.directory)/acme-dns.json"
        try JSONSerialization.data(withJSONObject: ["example.test": registration]).write(to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        try lab.update(zone: "example.test", ["update add _acme-challenge.example.test. 60 CNAME \(fulldomain)."])
        let parts = lab.secondary.split(separator: ":")
        let deadline = Date().addingTimeInterval(20)
        while try !runProcess("/usr/bin/dig", ["+short", "+norecurse", "@\(parts[0])", "-p", String(parts[1]), "CNAME", "_acme-challenge.example.test"])
            .stdout.contains(fulldomain) {
            guard Date() < deadline else { throw LabError("the secondary never served the CNAME") }
            try await Task.sleep(for: .milliseconds(100))
        }
        // No zones: the provider serves its registrations' fulldomains.
        return try lab.writeConfig(replacingProviderWith: """
            [[provider]]
            name = "acmedns"
            type = "acme-dns"
            api_base = "\(api.baseURL)"
            registration_file = "\(file)"
            """)
    }

    /// Pebble asks the lab's caching resolver, as a public CA asks its own: an authoritative-only
    /// server answers the CNAME alone, and the resolver follows it into acme.test.
    @Test func wildcardAndApexThroughTheCNAME() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "acme.test"], resolver: true))
        defer { lab.stop() }
        let api = try await lab.startAcmeDNS(zone: "acme.test")
        let config = try await Self.setUp(lab, api)
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem") == ["*.example.test", "example.test"])
        let requests = try api.requests()
        #expect(requests == ["GET /health": 1, "POST /register": 1, "POST /update": 2], "\(requests)")
    }

    @Test func aWrongPasswordIsOneSentence() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "acme.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAcmeDNS(zone: "acme.test")
        let wrong = "wrong-password-wrong-password-wrong-pass"
        let config = try await Self.setUp(lab, api, password: wrong)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "example.test"])
        let output = result.stdout + result.stderr
        #expect(result.status == 1, "\(output)")
        #expect(output.contains("acme-dns refused the username and password of subdomain") && output.contains("(HTTP 401 \"forbidden\")")
                && output.contains("provider 'acmedns' (acme-dns)"), "\(output)")
        #expect(!output.contains(wrong))
    }
}
