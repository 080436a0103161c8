import Foundation
import Testing
import TestLab

/// An account key rollover interrupted by a crash, through the real Pebble: the files are left
/// as the crash would leave them, and the next command keeps the key the CA accepts.
@Suite("interrupted account key rollover", .serialized)
struct RolloverRecoveryTests {
    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    static func write(_ text: String, _ path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
    }

    /// A fresh EC P-256 key in PEM, made by openssl.
    static func newKey(_ lab: TestLab) throws -> String {
        let path = "\(lab.directory)/k-\(UInt32.random(in: 0...UInt32.max)).pem"
        let made = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", path])
        #expect(made.status == 0, "\(made.output)")
        return try read(path)
    }

    @Test func theKeyTheCAAcceptsIsKept() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let config = try lab.writeConfig()
        let issued = try await CLIRunner.run(["issue", "-c", config, "-d", "a.example.test"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let accounts = "\(lab.directory)/state/accounts/127.0.0.1_\(lab.pebblePort)"
        let key = "\(accounts)/account.key", next = "\(accounts)/account.key.next", record = "\(accounts)/account.json"
        let before = try await ACMEDepthTests.accountSummary(config)

        // 1. A crash after account.key.next was written, before the CA heard of it: the current
        //    key stays and the next one goes.
        let oldKey = try Self.read(key), oldRecord = try Self.read(record)
        try Self.write(try Self.newKey(lab), next)
        let shown = try await ACMEDepthTests.accountSummary(config)
        #expect(shown["thumbprint"] as? String == before["thumbprint"] as? String)
        #expect(!FileManager.default.fileExists(atPath: next))
        #expect(try Self.read(key) == oldKey)

        // 2. A crash after the CA accepted the new key, before it replaced account.key: the
        //    files as they were then, the new key still in account.key.next.
        let rolled = try await CLIRunner.run(["account", "rollover", "-c", config, "--key-type", "ec384"])
        #expect(rolled.status == 0, "\(rolled.stderr)")
        let newKey = try Self.read(key)
        #expect(rename(key, next) == 0)
        try Self.write(oldKey, key)
        try Self.write(oldRecord, record)
        let again = try await CLIRunner.run(["issue", "-c", config, "-d", "b.example.test"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try Self.read(key) == newKey)
        #expect(!FileManager.default.fileExists(atPath: next))
        let mode = try FileManager.default.attributesOfItem(atPath: key)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let after = try await ACMEDepthTests.accountSummary(config)
        #expect(after["key"] as? String == "ES384 (EC P-384)")
        #expect(after["url"] as? String == before["url"] as? String)

        // 3. Neither key is the account's: one sentence naming both, and both files stay.
        try Self.write(try Self.newKey(lab), key)
        try Self.write(try Self.newKey(lab), next)
        let refused = try await CLIRunner.run(["account", "show", "-c", config])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("refuses both account keys in \(accounts)"), "\(refused.stderr)")
        #expect(FileManager.default.fileExists(atPath: next))
    }
}
