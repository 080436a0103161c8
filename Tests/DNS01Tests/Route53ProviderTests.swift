import Foundation
import Testing
import TestLab

/// Issue 16: `type = "route53"` against moto's Route 53 (the real AWS emulator), whose hosted
/// zones the lab's BIND serves (Tests/Support/route53-lab.py), so Pebble validates through real DNS.
@Suite("Route 53 provider") struct Route53ProviderTests {
    static let credentials = ["AWS_ACCESS_KEY_ID": "AKIDLAB", "AWS_SECRET_ACCESS_KEY": "lab-secret-never-printed"]

    static func config(_ lab: TestLab, _ r53: TestLab.Route53, extra: String = "", certificates: Int = 0) throws -> String {
        var provider = """
            [[provider]]
            name = "aws"
            type = "route53"
            zones = ["example.test"]
            endpoint = "\(r53.endpoint)"
            \(extra)

            """
        for index in stride(from: 1, through: certificates, by: 1) {
            provider += "[[certificate]]\nname = \"c\(index)\"\ndomains = [\"*.c\(index).example.test\", \"c\(index).example.test\"]\n\n"
        }
        let path = try lab.writeConfig(replacingProviderWith: provider)
        guard certificates > 0 else { return path }
        // Orders one at a time: Pebble 2.4 can deadlock on overlapping newOrders (bench/README.md),
        // and what this counts is Route 53's requests, which do not depend on it.
        try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "[acme]\n", with: "[acme]\nconcurrency = 1\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The values BIND serves at `name`, once the mirror has caught up (it polls moto every 100 ms).
    static func served(_ lab: TestLab, _ name: String, equal expected: [String]) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if try lab.txtValues(name, at: lab.primary) == expected.sorted() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    @Test func wildcardAndApexShareOneRecordSetAndAnotherValueStays() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let r53 = try await lab.startRoute53()
        try r53.put(zone: "example.test", name: "_acme-challenge.example.test.", values: ["keep-me"])
        #expect(try await Self.served(lab, "_acme-challenge.example.test", equal: ["keep-me"]))

        let result = try await CLIRunner.run(["issue", "-c", try Self.config(lab, r53), "-d", "*.example.test", "-d", "example.test"],
                                             environment: Self.credentials)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem")
                == ["*.example.test", "example.test"])
        // Both values went in one set next to the other value, and only dns01's left again.
        #expect(try await Self.served(lab, "_acme-challenge.example.test", equal: ["keep-me"]))
        let requests = try r53.requests()
        #expect(requests["GET /2013-04-01/hostedzonesbyname"] == 1, "\(requests)")
        #expect(requests["POST /2013-04-01/hostedzone/{id}/rrset"] == 2, "\(requests)")
        #expect(requests["GET /2013-04-01/hostedzone/{id}/rrset"] == 2, "\(requests)")
        #expect((requests["GET /2013-04-01/change/{id}"] ?? 0) >= 1, "\(requests)")
        #expect(!result.stderr.contains("lab-secret-never-printed"))
    }

    @Test func twentyCertificatesInOneChangePerZone() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 1))
        defer { lab.stop() }
        let r53 = try await lab.startRoute53()
        let result = try await CLIRunner.run(["run", "-c", try Self.config(lab, r53, certificates: 20), "--json"], environment: Self.credentials)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let requests = try r53.requests()
        // One zone: one lookup, one ChangeResourceRecordSets to add all 40 values, one to remove them.
        #expect(requests["POST /2013-04-01/hostedzone/{id}/rrset"] == 2, "\(requests)")
        #expect(requests["GET /2013-04-01/hostedzonesbyname"] == 1, "\(requests)")
        for index in [1, 20] { #expect(try await Self.served(lab, "_acme-challenge.c\(index).example.test", equal: [])) }
    }

    @Test func badInputIsOneSentence() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"]))
        defer { lab.stop() }
        let r53 = try await lab.startRoute53()
        // No credentials anywhere: exit 2, naming what is missing.
        let none = try await CLIRunner.run(["check", "-c", try Self.config(lab, r53, extra: "credentials_file = \"\(lab.directory)/none\""),
                                            "-d", "example.test"], environment: ["HOME": lab.directory])
        #expect(none.status == 2 && none.stderr.contains("credentials file"), "\(none.stderr)")
        let inline = try await CLIRunner.run(["check", "-c", try Self.config(lab, r53, extra: "aws_secret_access_key = \"x\""), "-d", "example.test"],
                                             environment: Self.credentials)
        #expect(inline.status == 2 && inline.stderr.contains("never go in the config"), "\(inline.stderr)")
        // A hosted zone that does not exist: the provider and the zone in one sentence.
        let wrongID = try await CLIRunner.run(["check", "-c", try Self.config(lab, r53, extra: "hosted_zone_id = \"ZNOSUCHZONE\""),
                                               "-d", "example.test"], environment: Self.credentials)
        #expect(wrongID.status == 1 && wrongID.stderr.contains("provider 'aws' (route53)") && wrongID.stderr.contains("example.test"),
                "\(wrongID.stderr)")
        #expect(!wrongID.stderr.contains("lab-secret-never-printed"))
    }
}
