@testable import DNS
import Foundation
import TestLab
import Testing

@Suite struct TSIGKeyTests {
    static let secret = "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE="

    @Test func tsigKeygenOutput() throws {
        // As `tsig-keygen -a hmac-sha256 acme-key` writes it.
        let text = """
        key "acme-key" {
        \talgorithm hmac-sha256;
        \tsecret "\(Self.secret)";
        };

        """
        let key = try TSIGKey.parse(bindKeyFile: text, path: "k.key")
        #expect(key.name == "acme-key" && key.algorithm == "hmac-sha256" && key.secret == Self.secret)
        #expect(!key.description.contains(Self.secret))
    }

    @Test func commentsAndOtherAlgorithms() throws {
        let text = """
        # made for dns01
        // another comment
        /* a block
           comment */
        key ddns-key.example.test {
            algorithm HMAC-SHA512; # trailing
            secret "\(Self.secret)";
        };
        """
        let key = try TSIGKey.parse(bindKeyFile: text, path: "k.key")
        #expect(key.name == "ddns-key.example.test" && key.algorithm == "hmac-sha512")
        let md5 = try TSIGKey(name: "k", algorithm: "hmac-md5.sig-alg.reg.int.", secret: Self.secret)
        #expect(md5.algorithm == "hmac-md5" && md5.ldnsAlgorithm == "hmac-md5.sig-alg.reg.int.")
    }

    @Test(arguments: [
        ("key \"k\" { algorithm hmac-sha256; };", "line 1", "has no secret"),
        ("key \"k\" {\n algorithm hmac-sha256;\n secret \"not*base64!\";\n};", "line 3", "not valid base64"),
        ("key \"k\" {\n algorithm hmac-sha384;\n secret \"\(secret)\";\n};", "line 2", "cannot sign with"),
        ("key \"k\" {\n algorithm hmac-sha256;\n secret \"\(secret)\";\n", "line 4", "file ends"),
        ("key \"k\" { algorithm hmac-sha256; secret \"\(secret)\" };", "line 1", "expected ';'"),
        ("zone \"k\" { };", "line 1", "expected 'key'"),
        ("key \"k\" { secret \"\(secret)\"; };", "line 1", "has no algorithm"),
        ("key \"k\" { algorithm hmac-sha256; secret \"\(secret)\"; }; key \"j\" { };", "line 1", "only one key"),
        ("key \"k\" { algorithm hmac-sha256; secret \"\(secret);\n};", "line 1", "never closed"),
    ])
    func malformed(_ text: String, _ line: String, _ reason: String) {
        do {
            _ = try TSIGKey.parse(bindKeyFile: text, path: "/etc/dns01/bad.key")
            Issue.record("accepted: \(text)")
        } catch let error as DNSError {
            #expect(error.code == .keyFile)
            #expect(error.message.contains("/etc/dns01/bad.key"))
            #expect(error.message.contains(line), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(!error.message.contains(Self.secret))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Malformed files whose faulty token is the secret itself (a raw secret pasted into the
    /// file, a secret where a keyword belongs): the error names the file and line, not the
    /// secret.
    @Test(arguments: [
        ("\(secret)\n", "line 1", "expected 'key'"),
        ("key \"k\" {\n algorithm hmac-sha256;\n \(secret);\n};", "line 4", "expected ';' after a word"),
        ("key \"k\" {\n algorithm hmac-sha256;\n secret \"\(secret)\";\n \"\(secret)\"; };", "line 4", "expected ';' after a quoted string"),
        ("key \"k\" {\n algorithm hmac-sha256;\n \"\(secret)\" x; };", "line 3", "unknown statement a quoted string"),
        ("key \"k\" {\n algorithm hmac-sha256;\n secret \"\(secret)\" \"\(secret)\";\n};", "line 3", "expected ';' after 'secret'"),
        ("key \"k\" {\n algorithm hmac-sha256;\n secret \"\(secret)\";\n}; \(secret)", "line 4", "found a word that is not a keyword after the key"),
        ("key \"k\" {\n algorithm \"\(secret)\";\n secret \"\(secret)\";\n};", "line 2", "not a name"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n    \(secret)\n", "line 4", "expected 'name: value'"),
        ("key:\n  - id: k\n    algorithm: \(secret)\n    secret: \(secret)\n", "line 3", "not a name"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: \"\(secret)\n", "line 4", "not a plain or quoted"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: not*base64!\n", "line 4", "not valid base64"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n", "line 2", "has no secret"),
        ("key:\n  - id: k\n    secret: \(secret)\n", "line 2", "has no algorithm"),
        ("key:\n  - algorithm: hmac-sha256\n    secret: \(secret)\n", "line 2", "has no id"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: \(secret)\n  - id: j\n", "line 5", "only one key"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: \(secret)\n    secret: \(secret)\n", "line 5", "appears twice"),
        ("key:\n  - id: k\n    algorithm: hmac-sha256\n    secret: \(secret)\nremote:\n", "line 5", "only the 'key:' section"),
        ("key:\n  - id: k\n    storage: /x\n", "line 3", "unknown field 'storage'"),
        ("key:\n", "line 1", "lists no key"),
    ])
    func errorsNeverQuoteTheSecret(_ text: String, _ line: String, _ reason: String) {
        do {
            _ = try TSIGKey.parse(keyFile: text, path: "/etc/dns01/bad.key")
            Issue.record("accepted: \(text)")
        } catch let error as DNSError {
            #expect(error.code == .keyFile)
            #expect(error.message.contains("/etc/dns01/bad.key line") && error.message.contains(line), "\(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(!error.message.contains(Self.secret), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Knot's form, as `keymgr -t acme-key hmac-sha256` prints it (its first line is a comment
    /// holding the knsupdate form of the key), and with quotes and comments.
    @Test(arguments: [
        "# hmac-sha256:acme-key:\(secret)\nkey:\n  - id: acme-key\n    algorithm: hmac-sha256\n    secret: \(secret)\n",
        "key:   # dns01\r\n- id: \"acme-key\"\r\n  algorithm: 'hmac-sha256'  # the HMAC\r\n  secret: \"\(secret)\"\r\n",
        "\n# a comment\nkey:\n  - secret: \(secret)\n    id: acme-key.\n\n    algorithm: HMAC-SHA256\n",
    ])
    func knotKeyFiles(_ text: String) throws {
        let key = try TSIGKey.parse(keyFile: text, path: "k.key")
        #expect(key.name == "acme-key" && key.algorithm == "hmac-sha256" && key.secret == Self.secret)
    }

    /// The real `keymgr -t` (Knot's key manager) output.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/keymgr")),
          arguments: ["hmac-sha256", "hmac-sha512", "hmac-sha1", "hmac-md5"])
    func realKeymgrOutput(_ algorithm: String) throws {
        let output = try CapturedRun.run("/usr/sbin/keymgr", ["-t", "knot-key", algorithm]).stdout
        let key = try TSIGKey.parse(keyFile: output, path: "keymgr.key")
        #expect(key.name == "knot-key" && key.algorithm == algorithm)
        #expect(output.contains("secret: \(key.secret)"))
    }

    // The key file's bound and a missing file (keyFilesAreReadWithABound, missingFileNamesThePath)
    // moved with the reading itself to the rfc2136 provider's config: BoundedReadTests.
}
