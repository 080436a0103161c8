import DNS01
import Foundation
import Testing
import TestLab

/// Internationalized names end to end: given in U-label form, sent to the CA and the DNS in
/// A-label form, shown in both.
@Suite("IDN names", .serialized)
struct IDNIntegrationTests {
    /// A wildcard and its apex, both internationalized, through the real Pebble and BIND: the
    /// certificate's SANs are the A-labels, live/ is named by the A-label form, the result line
    /// shows both forms, and a [[certificate]] whose `domains` are U-labels runs the same way.
    @Test func wildcardAndApexThroughPebble() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let config = try lab.writeConfig { text in
            text + """

                [[certificate]]
                domains = ["straße.example.test", "*.ÖBB.example.test"]
                """
        }

        let issued = try await CLIRunner.run(["issue", "-c", config, "-d", "*.bücher.example.test", "-d", "Bücher.example.test"])
        #expect(issued.status == 0, "stderr: \(issued.stderr)")
        let live = "\(lab.directory)/state/live/xn--bcher-kva.example.test"
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem")
            == ["*.xn--bcher-kva.example.test", "xn--bcher-kva.example.test"])
        #expect(issued.stdout.contains("*.bücher.example.test (*.xn--bcher-kva.example.test), bücher.example.test (xn--bcher-kva.example.test)"),
                "\(issued.stdout)")
        #expect(try lab.leftoverChallengeValues(["xn--bcher-kva.example.test"]).isEmpty)

        let run = try await CLIRunner.run(["run", "-c", config])
        #expect(run.status == 0, "stderr: \(run.stderr)")
        // Non-transitional: "ß" stays (xn--strae-oqa), it does not become "ss".
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/xn--strae-oqa.example.test/cert.pem")
            == ["*.xn--bb-eka.example.test", "xn--strae-oqa.example.test"])
        #expect(run.stdout.contains("straße.example.test (xn--strae-oqa.example.test): issued"), "\(run.stdout)")
        #expect(try lab.leftoverChallengeValues(["xn--strae-oqa.example.test", "xn--bb-eka.example.test"]).isEmpty)
    }

    /// An invalid IDN is bad usage: exit 2 with one sentence naming it and libidn2's reason,
    /// before the CA is contacted (the config's CA cannot be reached: contact would exit 1).
    @Test(arguments: [
        ("☃.example.test", "disallowed character"),
        ("xn--zz.example.test", "invalid punycode"),
        ("ö" + String(repeating: "a", count: 60) + ".example.test", "longer than 63 octets in A-label form"),
    ])
    func invalidIDNExitsTwo(_ name: String, _ reason: String) async throws {
        try await BadInputTests.withTempConfig(BadInputTests.unreachableCAConfig) { config in
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", name])
            #expect(result.status == 2, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("'\(name)' is not a valid internationalized domain name"), "\(result.stderr)")
            #expect(result.stderr.contains(reason), "\(result.stderr)")
            #expect(result.stderr.split(separator: "\n").count == 1, "one sentence: \(result.stderr)")
        }
    }

    /// Config `domains` and `zones`, and certbot's CERTBOT_DOMAIN, are held in A-label form.
    @Test func configAndCertbotNamesInALabelForm() throws {
        let config = try Configuration.parse(BadInputTests.unreachableCAConfig.replacingOccurrences(of: "/nonexistent/dns01-state", with: "/tmp/x") + """

            [[certificate]]
            domains = ["*.Bücher.example.test", "bücher.example.test"]
            """, path: "/t/dns01.toml")
        #expect(config.certificates.first?.domains == ["*.xn--bcher-kva.example.test", "xn--bcher-kva.example.test"])
        #expect(config.certificates.first?.name == "xn--bcher-kva.example.test")
        let zoned = try Configuration.parse(BadInputTests.unreachableCAConfig.replacingOccurrences(of: "/nonexistent/dns01-state", with: "/tmp/x")
            .replacingOccurrences(of: #"zones = ["example.test"]"#, with: #"zones = ["Bücher.example.test"]"#), path: "/t/dns01.toml")
        #expect(zoned.providers.first?.zones == ["xn--bcher-kva.example.test"])
        let call = try CertbotHook.Call(environment: ["CERTBOT_DOMAIN": "bücher.example.test", "CERTBOT_VALIDATION": String(repeating: "A", count: 43),
                                                      "CERTBOT_REMAINING_CHALLENGES": "0"], cleanup: false)
        #expect(call.domain == "xn--bcher-kva.example.test")
    }
}
