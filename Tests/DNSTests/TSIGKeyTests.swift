@testable import DNS
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

    @Test func missingFileNamesThePath() {
        #expect(throws: DNSError.self) { try TSIGKey(contentsOf: "/nonexistent/dns01.key") }
    }
}
