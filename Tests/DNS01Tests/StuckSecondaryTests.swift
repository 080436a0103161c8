import Foundation
import Testing
import TestLab

/// Item 15 of "Trust, round two": when the wait times out because a secondary never gets the
/// change, the error says why. Here the real PowerDNS as the primary, written through
/// providers/pdns (its HTTP API), with a zone made by pdnsutil and so without SOA-EDIT-API: the
/// API changes the zone and leaves its serial alone, the lab's BIND secondary polls the SOA every
/// 1-2 s, sees nothing new, and never transfers the values.
@Suite("stuck secondary") struct StuckSecondaryTests {
    @Test func aPowerDNSPrimaryWithoutSOAEditAPIIsNamed() async throws {
        let pdns = try await PowerDNS.start(zone: "pdns.test")
        defer { pdns.stop() }
        let lab = try await TestLab.start(.init(startPebble: false, secondaryOf: ["pdns.test": "127.0.0.1:\(pdns.dnsPort)"]))
        defer { lab.stop() }
        let primary = "127.0.0.1:\(pdns.dnsPort)"
        let config = try lab.writeConfig("pdns.toml") { text in
            text.replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"4s\"") + """

            [[provider]]
            name = "pdns"
            type = "shell"
            zones = ["pdns.test"]
            command = "\(ProviderIntegrationTests.repository)/providers/pdns"
            batch = true
            env = { PDNS_API_URL = "\(pdns.apiURL)", PDNS_API_KEY_FILE = "\(pdns.keyFile)" }

            [[zone]]
            name = "pdns.test"
            nameservers = ["\(primary)", "\(lab.secondary)"]
            """
        }
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "pdns.test"])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        let output = result.stdout + result.stderr
        #expect(output.contains("\(lab.secondary) lacks the values with the same SOA serial"), "\(output)")
        #expect(output.contains("of zone pdns.test as \(primary), which serves the values: the primary's SOA serial did not change after the update, so secondaries will not transfer it (PowerDNS: set SOA-EDIT-API / SOA-EDIT-DNSUPDATE)."),
                "\(output)")
        // The probe value is gone again, at the primary.
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
    }
}
