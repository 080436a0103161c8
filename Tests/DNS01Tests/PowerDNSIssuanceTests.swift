import Foundation
import Testing
import TestLab

/// Issue 28: `type = "powerdns"` through the dns01 CLI against the real pdns_server, the lab's
/// BIND secondary transferring the zone from it, and Pebble validating at that secondary.
@Suite("PowerDNS provider: issuance") struct PowerDNSIssuanceTests {
    /// The lab's config with its rfc2136 provider replaced by a powerdns one, and pdns.test's
    /// nameservers (PowerDNS and the secondary). Names are looked up at the secondary, which
    /// serves every zone of the lab.
    static func config(_ lab: TestLab, _ pdns: PowerDNS, zones: [String] = ["pdns.test"], keyFile: String? = nil, certificates: String = "") throws -> String {
        let path = try lab.writeConfig(replacingProviderWith: """
            [[provider]]
            name = "pdns"
            type = "powerdns"
            zones = [\(zones.map { "\"\($0)\"" }.joined(separator: ", "))]
            api_url = "\(pdns.apiURL)"
            api_key_file = "\(keyFile ?? pdns.keyFile)"

            [[zone]]
            name = "pdns.test"
            nameservers = ["\(pdns.server)", "\(lab.secondary)"]
            """)
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "resolvers = [\"\(lab.primary)\"]", with: "resolvers = [\"\(lab.secondary)\"]")
            .replacingOccurrences(of: "[acme]\n", with: "[acme]\nconcurrency = 1\n")
        try (text + certificates).write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let zoneAPI = "/api/v1/servers/localhost/zones/pdns.test."

    @Test func wildcardAndApexThroughPebble() async throws {
        let lab = try await TestLab.start(.init(powerDNSZones: ["pdns.test"]))
        defer { lab.stop() }
        let pdns = try #require(lab.powerDNS)
        let result = try await CLIRunner.run(["issue", "-c", try Self.config(lab, pdns), "-d", "*.pdns.test", "-d", "pdns.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/pdns.test/cert.pem") == ["*.pdns.test", "pdns.test"])
        // The unrelated value at the same name survived present and cleanup, and only it is left.
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
        // One read and one PATCH in, one read and one PATCH out.
        let requests = try pdns.requests()
        #expect(requests == ["GET \(Self.zoneAPI)": 2, "PATCH \(Self.zoneAPI)": 2], "\(requests)")
        let key = try String(contentsOfFile: pdns.keyFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!result.stderr.contains(key) && !result.stdout.contains(key))
    }

    /// 20 certificates of 2 names each in one run: 40 values at 20 names of one zone, still
    /// two requests in and two out.
    @Test func twentyCertificatesTakeFourRequests() async throws {
        let lab = try await TestLab.start(.init(powerDNSZones: ["pdns.test"]))
        defer { lab.stop() }
        let pdns = try #require(lab.powerDNS)
        let certificates = (1...20).map { "\n[[certificate]]\nname = \"c\($0)\"\ndomains = [\"*.c\($0).pdns.test\", \"c\($0).pdns.test\"]\n" }.joined()
        let result = try await CLIRunner.run(["run", "-c", try Self.config(lab, pdns, certificates: certificates), "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let requests = try pdns.requests()
        #expect(requests == ["GET \(Self.zoneAPI)": 2, "PATCH \(Self.zoneAPI)": 2], "\(requests)")
        for index in [1, 20] {
            #expect(try pdns.txtValues("_acme-challenge.c\(index).pdns.test").isEmpty)
        }
    }

    @Test func aWrongKeyAndAnUnknownZoneAreOneSentenceEach() async throws {
        let lab = try await TestLab.start(.init(startPebble: false, powerDNSZones: ["pdns.test"]))
        defer { lab.stop() }
        let pdns = try #require(lab.powerDNS)
        let wrong = "\(lab.directory)/wrong-pdns-key"
        try "not-the-key\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let host = pdns.apiURL.dropFirst("http://".count)
        let denied = try await CLIRunner.run(["check", "-c", try Self.config(lab, pdns, keyFile: wrong), "-d", "pdns.test"])
        #expect(denied.status == 1, "\(denied.stdout)\(denied.stderr)")
        #expect((denied.stdout + denied.stderr).contains("provider 'pdns' (powerdns) could not add TXT records in zone pdns.test (_acme-challenge.pdns.test): PowerDNS at \(host) refused the API key (HTTP 401); check api_key_file or api_key_env against pdns_server's api-key."),
                "\(denied.stdout)\(denied.stderr)")
        #expect(!(denied.stdout + denied.stderr).contains("not-the-key"))

        // example.test is the lab's BIND zone, not one PowerDNS has.
        let unknown = try await CLIRunner.run(["check", "-c", try Self.config(lab, pdns, zones: ["pdns.test", "example.test"]), "-d", "example.test"])
        #expect(unknown.status == 1, "\(unknown.stdout)\(unknown.stderr)")
        #expect((unknown.stdout + unknown.stderr).contains("provider 'pdns' (powerdns) could not add TXT records in zone example.test (_acme-challenge.example.test): PowerDNS at \(host) (server_id localhost) has no zone example.test."),
                "\(unknown.stdout)\(unknown.stderr)")
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
    }
}
