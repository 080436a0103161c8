import DNS
@testable import DNS01
import Foundation
import HTTP
import Processes
@testable import Providers
import ScriptedHTTP
import Settings
import Files
import Testing

/// Hardening issue "Trust, round two", items 1–4, for the pure logic: the redactor, the
/// children's environment policy, the secret-file rule for configs and AWS credentials files,
/// and Route 53's error text. The integration tests (real hooks, lexicon, the Cloudflare
/// stand-in) are in `ChildEnvironmentIntegrationTests`, `LexiconProviderTests` and
/// `CloudflareProviderTests`.
@Suite("Secret handling") struct SecretHandlingTests {
    // MARK: - Redactor (item 2)

    static let redactions: [(text: String, secrets: [String], expected: String)] = [
        ("token tok-123456 refused", ["tok-123456"], "token [redacted] refused"),
        // Percent-encoded, as a URL carries it.
        ("GET /x?t=a%2Bb%2Fc", ["a+b/c"], "GET /x?[redacted]"),
        ("secret a+b/c=, encoded a%2Bb%2Fc%3D", ["a+b/c="], "secret [redacted], encoded [redacted]"),
        // The longer secret goes whole, not the shorter one inside it.
        ("key abcdef123456", ["abcdef", "abcdef123456"], "key [redacted]"),
        // Too short to redact without shredding the sentence.
        ("a value of 123 here", ["123"], "a value of 123 here"),
        // A query string, as requests quotes dreamhost's URL (the key unknown to the redactor).
        ("Max retries exceeded with url: /?key=K3Y&format=json&cmd=dns-list_records (Caused by ProxyError)", [],
         "Max retries exceeded with url: /?[redacted] (Caused by ProxyError)"),
        ("see https://api.example/v1/zones?name=a&token=x, then", [], "see https://api.example/v1/zones?[redacted], then"),
        // Userinfo.
        ("postgresql://dns01:hunter2@db.example/dns01 refused", [], "postgresql://[redacted]@db.example/dns01 refused"),
        ("'https://user:pw@host:443/path?q=1'", [], "'https://[redacted]@host:443/path?[redacted]'"),
        // Nothing to take out.
        ("Is this ok? yes = fine", [], "Is this ok? yes = fine"),
        ("mail admin@example.test", [], "mail admin@example.test"),
    ]

    @Test(arguments: redactions)
    func redactorTakesOutSecretsAndURLCredentials(_ row: (text: String, secrets: [String], expected: String)) {
        #expect(Redactor(secrets: row.secrets)(row.text) == row.expected)
    }

    @Test func clipRedactsBeforeCutting() {
        // A secret that a cut would halve is still taken out whole.
        let secret = "s3cr3t-token-value-0123456789"
        let text = String(repeating: "x", count: 290) + " " + secret + " tail"
        let clipped = Redactor(secrets: [secret]).clip(text, limit: 300)
        #expect(!clipped.contains("s3cr3t"))
        #expect(clipped.count <= 301)
    }

    // MARK: - Children's environment (item 1)

    @Test func childEnvironmentWithholdsAndAllows() {
        let policy = ChildEnvironment(withholding: ["CF_TOKEN"], prefixes: ["LEXICON_", "PG"])
        let base = ["CF_TOKEN": "t0ken-1", "PATH": "/bin", "LEXICON_OVH_AUTH_APPLICATION_SECRET": "ovh-s3cret",
                    "LEXICON_DREAMHOST_AUTH_TOKEN": "dh-t0ken", "LEXICON_DREAMHOST_TIMEOUT": "30", "PGPASSWORD": "pg-pass", "HOME": "/root"]
        let hook = policy.environment(from: base, adding: ["DNS01_CERT_NAME": "a"])
        #expect(hook == ["PATH": "/bin", "HOME": "/root", "DNS01_CERT_NAME": "a"])
        let dreamhost = policy.allowing(prefixes: ["LEXICON_DREAMHOST_"]).environment(from: base, adding: [:])
        #expect(Set(dreamhost.keys) == ["PATH", "HOME", "LEXICON_DREAMHOST_AUTH_TOKEN", "LEXICON_DREAMHOST_TIMEOUT"])
        // Secrets to redact: exact names always, prefixed ones when their names say so.
        #expect(Set(policy.withheldSecrets(in: base)) == ["t0ken-1", "ovh-s3cret", "dh-t0ken", "pg-pass"])
        #expect(policy.allowing(prefixes: ["LEXICON_DREAMHOST_"]).allowedSecrets(in: base) == ["dh-t0ken"])
    }

    static let secretNames: [(String, Bool)] = [
        ("LEXICON_POWERDNS_AUTH_TOKEN", true), ("LEXICON_OVH_AUTH_APPLICATION_KEY", true), ("DB_PASSWORD", true),
        ("api_secret", true), ("NSUPDATE_KEY_FILE", false), ("LEXICON_POWERDNS_PDNS_SERVER", false),
        ("LEXICON_NAMECHEAP_AUTH_USERNAME", false), ("NSUPDATE_SERVER", false),
    ]

    @Test(arguments: secretNames)
    func secretLookingNames(_ row: (String, Bool)) {
        #expect(ChildEnvironment.looksSecret(row.0) == row.1)
    }

    static func top(_ text: String) throws -> Settings {
        Settings(context: "t.toml", values: try TOMLReader.read(text, path: "t.toml"))
    }

    @Test func configNamesTheVariablesToWithhold() throws {
        let plain = try Configuration.childEnvironment(Self.top("""
            [[provider]]
            name = "cf"
            type = "cloudflare"
            api_token_env = "CF_DNS_TOKEN"

            [[provider]]
            name = "aws"
            type = "route53"
            credentials_file = "/etc/dns01/aws"
            """))
        #expect(plain.withholds("CF_DNS_TOKEN") && plain.withholds("LEXICON_GANDI_AUTH_TOKEN"))
        // Route 53 reads a file: the AWS variables are not dns01's, and pass on; so does PG*.
        #expect(!plain.withholds("AWS_SECRET_ACCESS_KEY") && !plain.withholds("PGPASSWORD") && !plain.withholds("PATH"))

        let fromEnvironment = try Configuration.childEnvironment(Self.top("""
            [[provider]]
            name = "aws"
            type = "route53"

            [storage]
            type = "postgres"
            url_file = "/etc/dns01/pg.url"
            key_file = "/etc/dns01/pg.key"
            """))
        for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD", "PGPASSFILE"] {
            #expect(fromEnvironment.withholds(name), "\(name)")
        }
        #expect(!fromEnvironment.withholds("AWS_REGION") && !fromEnvironment.withholds("HOME"))
    }

    // MARK: - Secret files at rest (item 3)

    /// A config holding a lexicon secret, written with `mode`.
    static func lexiconConfig(mode: mode_t, env: String) throws -> (path: String, directory: String) {
        let directory = FileManager.default.temporaryDirectory.path + "/dns01-secrets-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/dns01.toml"
        try """
            [acme]
            state_dir = "\(directory)/state"

            [[provider]]
            name = "dh"
            type = "lexicon"
            zones = ["example.test"]
            lexicon_provider = "dreamhost"
            python = "/bin/sh"
            command = "\(DocSnippetTests.repository)/providers/lexicon"
            env = \(env)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, mode)
        return (path, directory)
    }

    @Test func configHoldingSecretsMustBeReadableByItsOwnerOnly() throws {
        let open = try Self.lexiconConfig(mode: 0o644, env: #"{ LEXICON_DREAMHOST_AUTH_TOKEN = "dh-inline-token" }"#)
        defer { try? FileManager.default.removeItem(atPath: open.directory) }
        do {
            _ = try Configuration.load(path: open.path, requiresCA: false)
            Issue.record("a 0644 config holding a lexicon token was accepted")
        } catch let error as ConfigError {
            #expect("\(error)" == "[[provider]] 'dh' env LEXICON_DREAMHOST_AUTH_TOKEN: the config file \(open.path), which holds this secret, is readable by others (mode 644): chmod 600 it.")
            #expect(!"\(error)".contains("dh-inline-token"))
        }
        // Group-readable too (what the package installs): still refused.
        chmod(open.path, 0o640)
        #expect(throws: ConfigError.self) { _ = try Configuration.load(path: open.path, requiresCA: false) }
        chmod(open.path, 0o600)
        let loaded = try Configuration.load(path: open.path, requiresCA: false)
        #expect(loaded.redactor("it said dh-inline-token") == "it said [redacted]")

        // Settings that are not secrets leave the config free to be 0644.
        let plain = try Self.lexiconConfig(mode: 0o644, env: #"{ LEXICON_DREAMHOST_TIMEOUT = "30", LEXICON_X_KEY_FILE = "/k" }"#)
        defer { try? FileManager.default.removeItem(atPath: plain.directory) }
        #expect(try Configuration.load(path: plain.path, requiresCA: false).inlineSecrets.isEmpty)
    }

    @Test func awsCredentialsFileMustBeReadableByItsOwnerOnly() throws {
        let file = FileManager.default.temporaryDirectory.path + "/aws-credentials-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "[default]\naws_access_key_id = AKID\naws_secret_access_key = open-secret\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o644)
        do {
            _ = try AWSCredentials.resolve(context: "[[provider]] 'aws'", credentialsFile: file, profile: nil, environment: [:])
            Issue.record("a 0644 credentials file was accepted")
        } catch {
            #expect("\(error)" == "[[provider]] 'aws': the AWS credentials file \(file) is readable by others (mode 644): chmod 600 it.")
        }
        chmod(file, 0o600)
        #expect(try AWSCredentials.resolve(context: "t", credentialsFile: file, profile: nil, environment: [:]).secretAccessKey == "open-secret")
    }

    @Test func tsigKeyFileMustBeReadableByItsOwnerOnly() throws {
        let file = FileManager.default.temporaryDirectory.path + "/tsig-\(UUID().uuidString).key"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try "key \"acme\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\"; };\n"
            .write(toFile: file, atomically: true, encoding: .utf8)
        let settings = Settings(context: "[[provider]] 'bind'", values: ["server": .string("127.0.0.1:53"), "tsig_key_file": .string(file)])
        chmod(file, 0o644)
        do {
            _ = try RFC2136Provider.Config(settings)
            Issue.record("a 0644 TSIG key file was accepted")
        } catch {
            #expect("\(error)" == "[[provider]] 'bind': the TSIG key file \(file) is readable by others (mode 644): chmod 600 it.")
        }
        chmod(file, 0o600)
        #expect(try RFC2136Provider.Config(settings).key?.name == "acme")
    }

    // MARK: - Route 53's error text (items 2 and 4)

    @Test func route53ErrorTextIsRedactedStrippedAndClipped() async throws {
        let secret = "r53-secret-key-never-shown"
        // XML 1.0 allows a newline and C1 controls (U+009B is CSI, an 8-bit terminal escape),
        // not ESC; `<0>` comes escaped.
        let hostile = "bad input\n&lt;0&gt;dns01: forged\u{9B}31m " + secret + " " + String(repeating: "A", count: 200_000)
        let xml = """
            <?xml version="1.0"?>
            <ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type>\
            <Code>InvalidInput</Code><Message>\(hostile)</Message></Error><RequestId>r</RequestId></ErrorResponse>
            """
        let transport = ScriptedTransport(issuesNonces: false)
        transport.otherwise { _ in HTTPResponse(status: 400, headers: ["content-type": ["text/xml"]], body: Array(xml.utf8)) }
        var config = try Route53Provider.Config(Settings(context: "[[provider]] 'aws'", values: [
            "zones": .array([.string("example.test")]), "endpoint": .string("https://route53.test"),
        ]), environment: ["AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": secret])
        config.waitInSync = false
        let provider = Route53Provider(name: "aws", zones: ["example.test"], config: config, transport: transport)
        do {
            try await provider.present([TXTRecord(name: "_acme-challenge.example.test", value: "v")], zone: "example.test")
            Issue.record("present succeeded against an error answer")
        } catch {
            let text = "\(error)"
            #expect(!text.contains("\n") && !text.contains("\u{9B}") && !text.contains(secret), "\(text.prefix(500))")
            #expect(text.count < 1000, "\(text.count) characters")
            #expect(text.contains("InvalidInput: bad input?<0>dns01: forged?31m [redacted] AAA"), "\(text.prefix(500))")
        }
    }
}
