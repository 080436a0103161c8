import Foundation
import Testing
import TestLab

/// Issue 15 §2 and §3: a CA that asks the same caching resolver as dns01. Nothing dns01 looks up
/// before writing may put a negative answer for a challenge name into that cache (the lab's
/// zones have a negative TTL of 300 s, longer than any test), and `also_check_resolvers` asks
/// the resolver as a resolver (RD=1), only once the authoritative servers serve every value.
@Suite("A resolver shared with the CA") struct SharedResolverTests {
    static func lab(lag: Int = 2, extra: [String] = []) async throws -> TestLab {
        try await TestLab.start(.init(secondaryLag: lag, extraRecords: ["example.test": extra], resolver: true, negativeTTL: 300))
    }

    @Test func caBehindTheSameResolverValidates() async throws {
        let lab = try await Self.lab(extra: ["_acme-challenge.alias IN CNAME target.example.test."])
        defer { lab.stop() }
        let config = try lab.writeConfig()
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains("resolvers = [\"\(lab.resolver ?? "")\"]"))
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test",
                                              "-d", "www.example.test", "-d", "alias.example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(lab.directory)/state/live/example.test/cert.pem")
                == ["*.example.test", "alias.example.test", "example.test", "www.example.test"])
        #expect(try lab.leftoverChallengeValues(["example.test", "www.example.test"]).isEmpty)
        #expect(try lab.txtValues("target.example.test", at: lab.primary).isEmpty)
    }

    @Test func alsoCheckResolversAsksTheResolverRecursively() async throws {
        let lab = try await Self.lab()
        defer { lab.stop() }
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"20s\"\nalso_check_resolvers = true")
        }
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "*.example.test", "-d", "example.test"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    /// A resolver that cached NXDOMAIN before dns01 ran (someone asked it) cannot see the values
    /// until the negative answer expires: the timeout says so, by resolver and answer.
    @Test func aResolverStuckOnACachedNXDOMAINIsNamed() async throws {
        let lab = try await Self.lab(lag: 0)
        defer { lab.stop() }
        let resolver = try #require(lab.resolver)
        let parts = resolver.split(separator: ":")
        let dig = try runProcess("/usr/bin/dig", ["@\(parts[0])", "-p", String(parts[1]), "TXT", "_acme-challenge.example.test"])
        #expect(dig.stdout.contains("NXDOMAIN"))
        let config = try lab.writeConfig {
            $0.replacingOccurrences(of: "propagation_timeout = \"60s\"", with: "propagation_timeout = \"3s\"\nalso_check_resolvers = true")
        }
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "example.test"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("resolver (\(resolver)) lacks"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("answered NXDOMAIN"), "stderr: \(result.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }
}
