import Foundation
import Testing
import TestLab

/// Issue 3: zone discovery, CNAME-delegated challenges, several nameservers, `dns01 check`.
@Suite("DNS engine through the CLI", .serialized)
struct DNSEngineTests {
    /// A dns01.toml built from parts: the lab's [acme] section, resolvers = the lab primary,
    /// the given providers and [[zone]] overrides.
    static func config(_ lab: TestLab, providers: [(name: String, zones: [String], lab: TestLab)],
                       zones: [(String, [String])], dns: String = "") -> String {
        var text = """
        [acme]
        directory = "\(lab.pebbleDirectory)"
        \(FileManager.default.fileExists(atPath: lab.pebbleCAFile) ? "ca_bundle = \"\(lab.pebbleCAFile)\"" : "")
        agree_tos = true
        state_dir = "\(lab.directory)/state"

        [dns]
        resolvers = ["\(lab.primary)"]
        poll_interval = "250ms"
        propagation_timeout = "30s"
        \(dns)

        """
        for provider in providers {
            text += """

            [[provider]]
            name = "\(provider.name)"
            type = "rfc2136"
            zones = [\(provider.zones.map { "\"\($0)\"" }.joined(separator: ", "))]
            server = "\(provider.lab.primary)"
            tsig_key_file = "\(provider.lab.tsigKeyFile)"

            """
        }
        for (zone, servers) in zones {
            text += "\n[[zone]]\nname = \"\(zone)\"\nnameservers = [\(servers.map { "\"\($0)\"" }.joined(separator: ", "))]\n"
        }
        return text
    }

    static func write(_ text: String, in lab: TestLab) throws -> String {
        let path = "\(lab.directory)/engine-\(UUID().uuidString.prefix(6)).toml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Issued through Pebble: the CNAME target is in the same zone, because BIND (like any
    /// authoritative server) only chases CNAMEs inside a zone, and Pebble asks one server.
    /// BIND refuses a TXT next to a CNAME, so success means the values were written at the target.
    @Test func cnameDelegatedChallengeIsIssuedThroughTheTarget() async throws {
        let lab = try await TestLab.start(.init(
            secondaryLag: 2, extraRecords: ["example.test": ["_acme-challenge.cname IN CNAME challenges.example.test."]]))
        defer { lab.stop() }
        let result = try await CLIRunner.run(["issue", "-c", try lab.writeConfig(), "-d", "*.cname.example.test", "-d", "cname.example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/cname.example.test/cert.pem")
                == ["*.cname.example.test", "cname.example.test"])
        #expect(try lab.txtValues("challenges.example.test", at: lab.primary).isEmpty)
    }

    /// The acme-dns pattern across zones: the target's zone and provider are used, and the
    /// probe is waited for at the target zone's servers.
    @Test func cnameIntoAnotherZoneUsesThatZonesProvider() async throws {
        let lab = try await TestLab.start(.init(
            zones: ["example.test", "acme.test"],
            extraRecords: ["example.test": ["_acme-challenge.www IN CNAME hop.example.test.",
                                            "hop IN CNAME delegated.acme.test."]], startPebble: false))
        defer { lab.stop() }
        let config = try Self.write(Self.config(lab, providers: [("main", ["example.test"], lab), ("acme-dns", ["acme.test"], lab)],
                                                zones: [("example.test", [lab.primary, lab.secondary]),
                                                        ("acme.test", [lab.primary, lab.secondary])]), in: lab)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "*.www.example.test", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let items = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(items.count == 1)
        #expect(items.first?["recordName"] as? String == "delegated.acme.test")
        #expect(items.first?["zone"] as? String == "acme.test")
        #expect(items.first?["provider"] as? String == "acme-dns")
        #expect(try lab.txtValues("delegated.acme.test", at: lab.primary).isEmpty)
    }

    @Test func laggingSecondaryOfEightSeconds() async throws {
        let lab = try await TestLab.start(.init(
            secondaryLag: 8, extraRecords: ["example.test": ["_acme-challenge IN TXT \"unrelated value\""]]))
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test", "--json"])
        // Pebble asks only the secondary: had dns01 answered before the secondary served both
        // values, the authorizations would be invalid.
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect((summary?["seconds"] as? Double ?? 0) >= 7.8)
        // The value that was there before is still there, and only it.
        #expect(try lab.txtValues("_acme-challenge.example.test", at: lab.primary) == ["unrelated value"])
    }

    @Test func oneOfThreeNameserversDownTimesOutNamingIt() async throws {
        let lab = try await TestLab.start(.init(secondaryLag: 0))
        defer { lab.stop() }
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"3s\"")
                .replacingOccurrences(of: "nameservers = [\"\(lab.primary)\", \"\(lab.secondary)\"]",
                                      with: "nameservers = [\"\(lab.primary)\", \"\(lab.secondary)\", \"127.0.0.1:9\"]")
        }
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1:9"), "\(result.stderr)")
        #expect(result.stderr.contains("_acme-challenge.example.test"), "\(result.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    @Test func checkAcrossADelegatedSubZoneOnAnotherServer() async throws {
        let lab = try await TestLab.start(.init(
            secondaryLag: 1, extraRecords: ["example.test": ["sub IN NS ns1.sub.example.test.", "ns1.sub IN A 127.0.0.1"]]))
        defer { lab.stop() }
        let sub = try await TestLab.start(.init(zones: ["sub.example.test"], secondaryLag: 1, startPebble: false))
        defer { sub.stop() }
        let config = try Self.write(Self.config(lab, providers: [("main", ["example.test"], lab), ("sub", ["sub.example.test"], sub)],
                                                zones: [("example.test", [lab.primary, lab.secondary]),
                                                        ("sub.example.test", [sub.primary, sub.secondary])]), in: lab)
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "www.sub.example.test", "-d", "example.test", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let items = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        let byName = Dictionary(uniqueKeysWithValues: items.map { ($0["name"] as? String ?? "", $0) })
        #expect(byName["www.sub.example.test"]?["zone"] as? String == "sub.example.test")
        #expect(byName["www.sub.example.test"]?["provider"] as? String == "sub")
        #expect(byName["example.test"]?["zone"] as? String == "example.test")
        #expect(items.allSatisfy { $0["ok"] as? Bool == true })
        #expect((byName["example.test"]?["seconds"] as? Double ?? 0) >= 0.9)
        #expect(try sub.txtValues("_acme-challenge.www.sub.example.test", at: sub.primary).isEmpty)
    }

    @Test func checkNamesWhatIsWrong() async throws {
        let lab = try await TestLab.start(.init(
            zones: ["example.test", "broken.test"],
            extraRecords: [
                "example.test": ["_acme-challenge.loop IN CNAME _acme-challenge.loop2.example.test.",
                                 "_acme-challenge.loop2 IN CNAME _acme-challenge.loop.example.test."],
                "broken.test": ["@ IN NS ns.elsewhere.invalid."],
            ], startPebble: false))
        defer { lab.stop() }
        // No [[zone]] overrides: nameservers come from NS discovery on the lab's port.
        let config = try Self.write(Self.config(lab, providers: [("main", ["example.test", "broken.test"], lab)], zones: [],
                                                dns: "port = \(lab.port)"), in: lab)
        let cases: [(String, String)] = [
            ("loop.example.test", "loops"),
            ("www.broken.test", "ns.elsewhere.invalid"),
            ("www.nowhere.invalid", "www.nowhere.invalid"),
            ("other.test", "other.test"),
        ]
        for (name, mentioned) in cases {
            let result = try await CLIRunner.run(["check", "-c", config, "-d", name])
            #expect(result.status == 1, "\(name): \(result.stderr)")
            #expect((result.stdout + result.stderr).contains(mentioned), "\(name): \(result.stdout) \(result.stderr)")
        }
        // NS discovery itself: ns1 and ns2 of example.test, on the lab's port.
        let ok = try await CLIRunner.run(["check", "-c", config, "-d", "www.example.test", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(ok.stdout.contains("ns1.example.test") && ok.stdout.contains("ns2.example.test"), "\(ok.stdout)")
    }
}
