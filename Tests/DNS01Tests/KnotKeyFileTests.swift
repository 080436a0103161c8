import DNS
import Foundation
import Testing
import TestLab

/// A TSIG key in Knot's format (as `keymgr -t NAME ALG` prints it) works with the built-in
/// rfc2136 provider and with providers/knot, against the lab's real BIND.
@Suite("Knot key files", .serialized)
struct KnotKeyFileTests {
    /// The lab's key rewritten exactly as keymgr -t prints a key: a comment with knsupdate's
    /// form, then the YAML `key:` section.
    static func knotKeyFile(_ lab: TestLab) throws -> String {
        let key = try TSIGKey.parse(keyFile: String(contentsOfFile: lab.tsigKeyFile, encoding: .utf8), path: lab.tsigKeyFile)
        let path = "\(lab.directory)/knot.key"
        try """
            # \(key.algorithm):\(key.name):\(key.secret)
            key:
              - id: \(key.name)
                algorithm: \(key.algorithm)
                secret: \(key.secret)

            """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)  // a secret file, as keymgr's output should be kept (hardening item 3)
        return path
    }

    @Test func rfc2136ProviderReadsAKnotKeyFile() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let knotKey = try Self.knotKeyFile(lab)
        // No CA here (`dns01 check`), so no Pebble and no ca_bundle.
        let config = try lab.writeConfig { text in
            text.replacingOccurrences(of: lab.tsigKeyFile, with: knotKey).split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("ca_bundle") }.joined(separator: "\n")
        }
        #expect(try String(contentsOfFile: config, encoding: .utf8).contains(knotKey))
        let result = try await CLIRunner.run(["check", "-c", config, "-d", "example.test"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(try lab.leftoverChallengeValues(["example.test"]).isEmpty)
    }

    @Test func knotScriptReadsAKnotKeyFile() async throws {
        let lab = try await TestLab.start(.init(extraRecords: ["example.test": ["_acme-challenge IN TXT \"unrelated\""]], startPebble: false))
        defer { lab.stop() }
        let knotKey = try Self.knotKeyFile(lab)
        try ProviderScriptTests.exercise("knot", env: ["KNOT_SERVER": lab.primary, "KNOT_KEY_FILE": knotKey], zone: "example.test") {
            try lab.txtValues($0, at: lab.primary)
        }
        // A Knot file without a secret is refused before knsupdate runs.
        let broken = "\(lab.directory)/broken-knot.key"
        try "key:\n  - id: \(lab.tsigKeyName)\n    algorithm: hmac-sha256\n".write(toFile: broken, atomically: true, encoding: .utf8)
        let result = try ProviderScriptTests.call("knot", ["present", "_acme-challenge.example.test.", "x"],
                                                  env: ["KNOT_SERVER": lab.primary, "KNOT_KEY_FILE": broken, "DNS01_ZONE": "example.test."])
        #expect(result.status == 2 && result.output.contains("cannot read a TSIG key"), "\(result.output)")
    }
}
