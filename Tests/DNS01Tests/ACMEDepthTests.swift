import DNS01
import Foundation
import Testing
import TestLab

/// Issue 7 against the real Pebble: account key types and imported keys, EAB, alternate
/// chains, revocation, key rollover, certificate key types, CSR input and bad input.
@Suite("ACME in depth through Pebble", .serialized)
struct ACMEDepthTests {
    /// The lab config with `lines` added to [acme].
    static func config(_ lab: TestLab, _ name: String = "dns01.toml", state: String = "state", acme lines: String = "") throws -> String {
        try lab.writeConfig(name) { text in
            text.replacingOccurrences(of: "state_dir = \"\(lab.directory)/state\"", with: "state_dir = \"\(lab.directory)/\(state)\"")
                .replacingOccurrences(of: "[acme]\n", with: "[acme]\n\(lines)\n")
        }
    }

    static func openssl(_ arguments: [String]) throws -> String {
        let result = try runTool("/usr/bin/openssl", arguments)
        #expect(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.output)")
        return result.output
    }

    static func accountSummary(_ config: String) async throws -> [String: Any] {
        let shown = try await CLIRunner.run(["account", "show", "-c", config, "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
    }

    @Test(arguments: [("ec384", "ES384 (EC P-384)", "BEGIN PRIVATE KEY"), ("rsa2048", "RS256 (RSA 2048-bit)", "BEGIN RSA PRIVATE KEY")])
    func accountKeyTypes(_ type: String, _ summary: String, _ pemLabel: String) async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let config = try Self.config(lab, acme: "account_key_type = \"\(type)\"")
        let result = try await CLIRunner.run(["issue", "-c", config, "-d", "a.example.test"])
        #expect(result.status == 0, "\(result.stderr)")
        let account = try await Self.accountSummary(config)
        #expect(account["key"] as? String == summary)
        #expect(account["status"] as? String == "valid")
        let accounts = "\(lab.directory)/state/accounts"
        let host = try #require(try FileManager.default.contentsOfDirectory(atPath: accounts).first)
        #expect(try String(contentsOfFile: "\(accounts)/\(host)/account.key", encoding: .utf8).contains(pemLabel))
    }

    /// An account key made elsewhere (openssl, PKCS#1 like certbot's and acme-tiny's) registers
    /// once; a second state directory with the same key finds the same account (onlyReturnExisting).
    @Test func importedAccountKeyFindsItsAccount() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let keyFile = "\(lab.directory)/imported.key"
        _ = try Self.openssl(["genrsa", "-traditional", "-out", keyFile, "2048"])
        let first = try Self.config(lab, "first.toml", state: "state1", acme: "account_key_file = \"\(keyFile)\"")
        let issued = try await CLIRunner.run(["issue", "-c", first, "-d", "a.example.test"])
        #expect(issued.status == 0, "\(issued.stderr)")
        let url = try #require(try await Self.accountSummary(first)["url"] as? String)
        // dns01 did not copy the key into its state directory.
        let second = try Self.config(lab, "second.toml", state: "state2", acme: "account_key_file = \"\(keyFile)\"")
        // Hardening item 3: an account key file others may read is refused, naming it.
        chmod(keyFile, 0o644)
        let open = try await CLIRunner.run(["issue", "-c", second, "-d", "b.example.test"])
        #expect(open.status == 2 && open.stderr.contains("[acme] account_key_file: the account key file \(keyFile) is readable by others (mode 644): chmod 600 it."),
                "\(open.stderr)")
        chmod(keyFile, 0o600)
        let again = try await CLIRunner.run(["issue", "-c", second, "-d", "b.example.test"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try await Self.accountSummary(second)["url"] as? String == url)
        #expect(try await Self.accountSummary(second)["key"] as? String == "RS256 (RSA 2048-bit)")
    }

    @Test func externalAccountBinding() async throws {
        let macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
        let lab = try await TestLab.start(.init(pebbleConfigExtra: [
            "externalAccountBindingRequired": "true",
            "externalAccountMACKeys": "{\"kid-1\": \"\(macKey)\"}",
        ]))
        defer { lab.stop() }
        // Without EAB: one sentence naming the settings to add.
        let none = try Self.config(lab, "none.toml", state: "none")
        let refused = try await CLIRunner.run(["issue", "-c", none, "-d", "a.example.test"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("requires external account binding: set eab_kid and eab_hmac_key_file"), "\(refused.stderr)")

        // A wrong MAC key: the CA's refusal, and the key itself never printed.
        let wrongFile = "\(lab.directory)/wrong.eab"
        let wrongKey = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"
        try wrongKey.write(toFile: wrongFile, atomically: true, encoding: .utf8)
        chmod(wrongFile, 0o600)  // a secret file (hardening item 3 refuses it otherwise)
        let wrong = try Self.config(lab, "wrong.toml", state: "wrong", acme: "eab_kid = \"kid-1\"\neab_hmac_key_file = \"\(wrongFile)\"")
        let bad = try await CLIRunner.run(["issue", "-c", wrong, "-d", "a.example.test", "-v"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("refused to create the account"), "\(bad.stderr)")
        #expect(!bad.stderr.contains(wrongKey) && !bad.stdout.contains(wrongKey))

        let keyFile = "\(lab.directory)/right.eab"
        try macKey.write(toFile: keyFile, atomically: true, encoding: .utf8)
        let right = try Self.config(lab, "right.toml", state: "right", acme: "eab_kid = \"kid-1\"\neab_hmac_key_file = \"\(keyFile)\"")
        // Hardening item 3: a MAC key file others may read is refused, naming it, before it is used.
        chmod(keyFile, 0o644)
        let open = try await CLIRunner.run(["issue", "-c", right, "-d", "a.example.test"])
        #expect(open.status == 2 && open.stderr.contains("[acme] eab_hmac_key_file: the EAB MAC key file \(keyFile) is readable by others (mode 644): chmod 600 it."),
                "\(open.stderr)")
        chmod(keyFile, 0o600)
        let ok = try await CLIRunner.run(["issue", "-c", right, "-d", "a.example.test", "-v"])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(!ok.stderr.contains(macKey))
    }

    /// The issuer CN of a PEM file's first certificate, by openssl.
    static func issuerCN(_ path: String) throws -> String {
        let line = try openssl(["x509", "-noout", "-issuer", "-nameopt", "multiline", "-in", path])
        let cn = line.split(separator: "\n").first { $0.contains("commonName") }
        return cn.map { String($0.split(separator: "=", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? ""
    }

    @Test func preferredChainPicksAnAlternateRoot() async throws {
        let lab = try await TestLab.start(.init(pebbleEnv: ["PEBBLE_ALTERNATE_ROOTS": "2"]))
        defer { lab.stop() }
        // Pebble's roots 0 (default), 1 and 2, from its management interface.
        var roots: [String] = []
        for index in 0...2 {
            let path = "\(lab.directory)/root\(index).pem"
            let fetched = try runTool("/usr/bin/curl", ["-sSk", "-o", path, "\(lab.pebbleManagement)/roots/\(index)"])
            #expect(fetched.status == 0, "\(fetched.output)")
            roots.append(try Self.openssl(["x509", "-noout", "-subject", "-nameopt", "multiline", "-in", path])
                .split(separator: "\n").first { $0.contains("commonName") }
                .map { String($0.split(separator: "=", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "")
        }
        #expect(Set(roots).count == 3, "\(roots)")

        let plain = try Self.config(lab, "plain.toml")
        let first = try await CLIRunner.run(["issue", "-c", plain, "-d", "a.example.test"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try Self.issuerCN("\(lab.directory)/state/live/a.example.test/chain.pem") == roots[0])

        let preferring = try Self.config(lab, "preferred.toml", acme: "preferred_chain = \"\(roots[2])\"")
        let second = try await CLIRunner.run(["issue", "-c", preferring, "-d", "b.example.test"])
        #expect(second.status == 0, "\(second.stderr)")
        #expect(try Self.issuerCN("\(lab.directory)/state/live/b.example.test/chain.pem") == roots[2])

        // A name no chain has: the default chain, and the certificate all the same.
        let missing = try Self.config(lab, "missing.toml", acme: "preferred_chain = \"No Such Root\"")
        let third = try await CLIRunner.run(["issue", "-c", missing, "-d", "c.example.test"])
        #expect(third.status == 0, "\(third.stderr)")
        #expect(try Self.issuerCN("\(lab.directory)/state/live/c.example.test/chain.pem") == roots[0])
    }

    @Test func revocationThenKeyRolloverThenIssuanceWithTheNewKey() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let config = try Self.config(lab)
        let issued = try await CLIRunner.run(["issue", "-c", config, "-d", "a.example.test"])
        #expect(issued.status == 0, "\(issued.stderr)")

        let badReason = try await CLIRunner.run(["revoke", "-c", config, "--cert-name", "a.example.test", "--reason", "boredom"])
        #expect(badReason.status == 2)
        #expect(badReason.stderr.contains("'boredom' is not one of"), "\(badReason.stderr)")
        let revoked = try await CLIRunner.run(["revoke", "-c", config, "--cert-name", "a.example.test", "--reason", "superseded"])
        #expect(revoked.status == 0, "\(revoked.stderr)")
        let serial = try Self.openssl(["x509", "-noout", "-serial", "-in", "\(lab.directory)/state/live/a.example.test/cert.pem"])
            .replacingOccurrences(of: "serial=", with: "").trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            .drop { $0 == "0" }
        let status = try runTool("/usr/bin/curl", ["-sSk", "\(lab.pebbleManagement)/cert-status-by-serial/\(serial)"])
        #expect(status.output.contains("\"Status\": \"Revoked\"") || status.output.contains("\"Status\":\"Revoked\""), "\(status.output)")
        let again = try await CLIRunner.run(["revoke", "-c", config, "--cert-name", "a.example.test"])
        #expect(again.status == 1)
        #expect(again.stderr.contains("alreadyRevoked") || again.stderr.contains("already revoked"), "\(again.stderr)")

        // A new [acme] email reaches the CA with `account update`, and the account stays the same.
        let before = try await Self.accountSummary(config)
        #expect(before["contact"] as? [String] == ["mailto:admin@example.test"])
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: "admin@example.test", with: "hostmaster@example.test")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let updated = try await CLIRunner.run(["account", "update", "-c", config])
        #expect(updated.status == 0, "\(updated.stderr)")
        #expect(updated.stdout.contains("mailto:hostmaster@example.test"), "\(updated.stdout)")
        let renamed = try await Self.accountSummary(config)
        #expect(renamed["contact"] as? [String] == ["mailto:hostmaster@example.test"])
        #expect(renamed["url"] as? String == before["url"] as? String)

        let rolled = try await CLIRunner.run(["account", "rollover", "-c", config, "--key-type", "ec384"])
        #expect(rolled.status == 0, "\(rolled.stderr)")
        let after = try await Self.accountSummary(config)
        #expect(after["url"] as? String == before["url"] as? String)
        #expect(after["key"] as? String == "ES384 (EC P-384)")
        #expect(after["thumbprint"] as? String != before["thumbprint"] as? String)
        let issuedAgain = try await CLIRunner.run(["issue", "-c", config, "-d", "b.example.test"])
        #expect(issuedAgain.status == 0, "\(issuedAgain.stderr)")

        let deactivate = try await CLIRunner.run(["account", "deactivate", "-c", config])
        #expect(deactivate.status == 2)
        let deactivated = try await CLIRunner.run(["account", "deactivate", "-c", config, "--yes", "--json"])
        #expect(deactivated.status == 0, "\(deactivated.stderr)")
        #expect(deactivated.stdout.contains("\"deactivated\""))
        let shown = try await CLIRunner.run(["account", "show", "-c", config])
        #expect(shown.status == 1)
        #expect(shown.stderr.contains("There is no account"), "\(shown.stderr)")
    }

    @Test func everyCertificateKeyType() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let config = try Self.config(lab)
        for (type, text) in [("ec256", "256 bit"), ("ec384", "384 bit"), ("rsa2048", "2048 bit"), ("rsa3072", "3072 bit"), ("rsa4096", "4096 bit")] {
            let result = try await CLIRunner.run(["issue", "-c", config, "-d", "\(type).example.test", "--key-type", type])
            #expect(result.status == 0, "\(type): \(result.stderr)")
            let live = "\(lab.directory)/state/live/\(type).example.test"
            #expect(try Self.openssl(["pkey", "-noout", "-text", "-in", "\(live)/privkey.pem"]).contains(text), "\(type)")
            // The certificate certifies that very key.
            #expect(try Self.openssl(["x509", "-noout", "-pubkey", "-in", "\(live)/cert.pem"])
                == Self.openssl(["pkey", "-pubout", "-in", "\(live)/privkey.pem"]))
        }
    }

    @Test func csrInput() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let config = try Self.config(lab)
        let key = "\(lab.directory)/own.key", csr = "\(lab.directory)/own.csr"
        _ = try Self.openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                              "-subj", "/CN=own.example.test", "-addext", "subjectAltName=DNS:own.example.test,DNS:*.own.example.test",
                              "-out", csr])
        let result = try await CLIRunner.run(["issue", "-c", config, "--csr", csr])
        #expect(result.status == 0, "\(result.stderr)")
        let live = "\(lab.directory)/state/live/own.example.test"
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem") == ["*.own.example.test", "own.example.test"])
        #expect(!FileManager.default.fileExists(atPath: "\(live)/privkey.pem"))
        #expect(try Self.openssl(["x509", "-noout", "-pubkey", "-in", "\(live)/cert.pem"]) == Self.openssl(["pkey", "-pubout", "-in", key]))

        // A CSR whose signature does not verify: one sentence, exit 2, nothing sent.
        let der = "\(lab.directory)/own.der"
        _ = try Self.openssl(["req", "-in", csr, "-outform", "DER", "-out", der])
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: der)))
        bytes[bytes.count - 5] ^= 0x01
        let broken = "\(lab.directory)/broken.der"
        try Data(bytes).write(to: URL(fileURLWithPath: broken))
        let refused = try await CLIRunner.run(["issue", "-c", config, "--csr", broken])
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("does not verify"), "\(refused.stderr)")
        let both = try await CLIRunner.run(["issue", "-c", config, "--csr", csr, "-d", "x.example.test"])
        #expect(both.status == 2)
    }

    @Test func badInput() async throws {
        let lab = try await TestLab.start(.init())
        defer { lab.stop() }
        let config = try Self.config(lab)
        // A URL that answers, but not with an ACME directory.
        let notACME = try lab.writeConfig("not-acme.toml") {
            $0.replacingOccurrences(of: lab.pebbleDirectory, with: lab.pebbleManagement + "/roots/0")
        }
        let cases: [(arguments: [String], status: Int32, says: String)] = [
            (["-c", notACME], 1, "is not an ACME directory"),
            (["-c", try Self.config(lab, "key-type.toml", acme: "account_key_type = \"dsa1024\"")], 2,
             "account_key_type 'dsa1024' is not one of ec256, ec384, rsa2048, rsa3072, rsa4096"),
            (["-c", config, "--key-type", "ed25519"], 2, "'ed25519' is not one of"),
            // Pebble 2.4 lists no profiles: asking for one is refused before any order.
            (["-c", config, "--profile", "shortlived"], 1, "offers no certificate profiles"),
            (["-c", try Self.config(lab, "half.toml", acme: "eab_kid = \"kid-1\"")], 2, "eab_kid and eab_hmac_key_file go together"),
        ]
        for item in cases {
            let result = try await CLIRunner.run(["issue", "-d", "a.example.test"] + item.arguments)
            #expect(result.status == item.status, "\(item.arguments): \(result.stderr)")
            // The sentence comes first (a usage error adds ArgumentParser's usage lines after it).
            #expect(result.stderr.split(separator: "\n").first?.contains(item.says) == true, "\(item.arguments): \(result.stderr)")
        }
    }
}
