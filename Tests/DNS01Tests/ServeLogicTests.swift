import DNS01
import Foundation
import Serve
import Settings
import Storage
import Testing

/// Pure logic of `dns01 serve`: what acme-dns accepts as a TXT value, CIDRs, the client address
/// behind proxies, the rate limit, `[serve]` validation, the registration store.
@Suite struct ServeLogicTests {
    @Test(arguments: [
        ("LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZo", true),
        (String(repeating: "a", count: 43), true),
        (String(repeating: "a", count: 42), false),
        (String(repeating: "a", count: 44), false),
        ("LPsIwTo7o8BoG0+vjCyGQGBWSVIPxI/i_X336eUOQZo", false),   // base64, not base64url
        ("LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQZ=", false),   // padding
        ("LPsIwTo7o8BoG0-vjCyGQGBWSVIPxI-i_X336eUOQ\"", false),
        ("", false),
    ])
    func challengeValue(text: String, valid: Bool) {
        #expect(AcmeDNSAPI.isChallengeValue(text) == valid)
    }

    @Test(arguments: [
        ("192.0.2.0/24", "192.0.2.77", true),
        ("192.0.2.0/24", "192.0.3.1", false),
        ("192.0.2.7", "192.0.2.7", true),
        ("192.0.2.7", "192.0.2.8", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),
        ("2001:db8::/32", "2001:db8:1::5", true),
        ("2001:db8::/32", "2001:db9::5", false),
        ("2001:db8::/32", "192.0.2.1", false),
        ("192.0.2.0/25", "192.0.2.200", false),
    ])
    func cidrContains(cidr: String, address: String, inside: Bool) throws {
        let range = try #require(CIDR(cidr))
        #expect(range.contains(address) == inside)
    }

    @Test(arguments: ["192.0.2.0/33", "2001:db8::/129", "192.0.2.0/", "example.com/24", "192.0.2.0/24/1", "", " 192.0.2.1", "192.0.2.0/-1"])
    func cidrRejects(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func cidrNormalises() throws {
        #expect(try #require(CIDR("192.0.2.77/24")).description == "192.0.2.0/24")
        #expect(try #require(CIDR("2001:db8::1")).description == "2001:db8::1/128")
    }

    /// X-Forwarded-For counts only from a trusted proxy, and then its last untrusted hop.
    @Test(arguments: [
        ("198.51.100.1", ["192.0.2.9"], "198.51.100.1"),                 // not a proxy: header ignored
        ("127.0.0.1", ["192.0.2.9"], "192.0.2.9"),                       // proxy: the client it names
        ("127.0.0.1", ["203.0.113.5, 192.0.2.9"], "192.0.2.9"),          // a forged first hop loses
        ("127.0.0.1", ["192.0.2.9, 127.0.0.2"], "192.0.2.9"),            // two proxies
        ("127.0.0.1", [], "127.0.0.1"),                                  // proxy without header
        ("127.0.0.1", ["garbage"], "127.0.0.1"),
    ])
    func forwardedFor(peer: String, header: [String], client: String) throws {
        let trusted = [try #require(CIDR("127.0.0.0/8"))]
        let found = ServeServer.clientAddress(peer: CIDR.parseAddress(peer), forwarded: header, trustedProxies: trusted)
        #expect(found.map(CIDR.text) == client)
    }

    @Test func rateLimitRefills() {
        let limiter = RateLimiter(perSecond: 3)
        let start = ContinuousClock.now
        let client: [UInt8] = [192, 0, 2, 1]
        #expect((0..<4).map { _ in limiter.allow(client, now: start) } == [true, true, true, false])
        #expect(limiter.allow([192, 0, 2, 2], now: start))
        #expect(!limiter.allow(client, now: start + .milliseconds(100)))
        #expect(limiter.allow(client, now: start + .milliseconds(400)))
    }

    static func serveSettings(_ values: [String: SettingValue]) throws -> ServeSettings {
        try ServeSettings.parse(Settings(context: "[serve]", values: values), providers: ["lab"])
    }

    @Test(arguments: [
        (["zone": .string("auth.test"), "provider": .string("nope")], "[serve]: provider 'nope' is not a configured [[provider]]."),
        (["provider": .string("lab")], "[serve]: key 'zone' is required."),
        (["zone": .string("auth.test"), "provider": .string("lab"), "listen": .string("8053")], "[serve]: listen '8053' is not ADDRESS:PORT (127.0.0.1:8053, [::1]:8053)."),
        (["zone": .string("auth.test"), "provider": .string("lab"), "tls_cert_file": .string("/x")],
         "[serve]: the key is tls_certificate, not tls_cert_file."),
        (["zone": .string("auth.test"), "provider": .string("lab"), "tls_certificate": .string("/x/fullchain.pem")],
         "[serve]: tls_certificate is set without tls_key: HTTPS needs both, the certificate chain and its private key."),
        (["zone": .string("auth.test"), "provider": .string("lab"), "tls_key": .string("/x/privkey.pem")],
         "[serve]: tls_key is set without tls_certificate: HTTPS needs both, the certificate chain and its private key."),
        (["zone": .string("auth.test"), "provider": .string("lab"), "tls_certificate": .string(""), "tls_key": .string("/x/privkey.pem")],
         "[serve]: tls_certificate must be a file's path (it is empty or holds a control character)."),
        (["zone": .string("auth.test"), "provider": .string("lab"), "trusted_proxies": .array([.string("10.0.0.0/99")])],
         "[serve]: trusted_proxies entry '10.0.0.0/99' is not an address or CIDR."),
        (["zone": .string("a b.test"), "provider": .string("lab")], "[serve]: zone 'a b.test' is not a domain name of two or more labels in ASCII."),
    ] as [([String: SettingValue], String)])
    func settingsErrors(values: [String: SettingValue], message: String) {
        #expect(throws: ConfigError.self) { try Self.serveSettings(values) }
        do { _ = try Self.serveSettings(values) } catch { #expect("\(error)" == message) }
    }

    @Test func settingsDefaults() throws {
        let settings = try Self.serveSettings(["zone": .string("Auth.Test."), "provider": .string("lab"), "listen": .string("[::1]:9000")])
        #expect(settings.zone == "auth.test")
        #expect(settings.host == "::1" && settings.port == 9000)
        #expect(!settings.allowRegister)
    }

    /// README's `[serve]` examples pass the parser's [serve] validation with their commented
    /// options switched on.
    @Test func readmeServeSnippetsValidate() throws {
        let snippets = try DocSnippetTests.snippets().filter { $0.language == "toml" && $0.text.contains("[serve]") }
        #expect(!snippets.isEmpty)
        for snippet in snippets {
            let sandbox = try DocSnippetTests.Sandbox()
            defer { sandbox.remove() }
            let text = snippet.text.components(separatedBy: "\n").map { line in
                guard let match = line.firstMatch(of: /^(\s*)#\s*([a-z_]+\s*=.*)$/) else { return line }
                return String(match.1 + match.2)
            }.joined(separator: "\n")
            let prepared = try sandbox.materialize("[acme]\ndirectory = \"https://acme.example/directory\"\nstate_dir = \"/var/lib/dns01\"\n\n" + text)
            let config = try Configuration.parse(prepared, path: "\(snippet)")
            let settings = try #require(config.serve)
            #expect(settings.updateTimeout == .seconds(120))
        }
    }

    /// A port already taken: one sentence naming the address and the key, exit status 1.
    @Test func listenAddressInUse() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-bind-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/state", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0 }
        }
        try #require(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let config = "\(dir)/dns01.toml"
        try """
            [acme]
            state_dir = "\(dir)/state"
            [dns]
            resolvers = ["127.0.0.1"]
            [[provider]]
            name = "hook"
            type = "shell"
            zones = ["auth.test"]
            command = "/bin/true"
            [serve]
            listen = "127.0.0.1:\(port)"
            zone = "auth.test"
            provider = "hook"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        chmod(config, 0o600)
        let result = try await CLIRunner.run(["serve", "-c", config])
        #expect(result.status == 1)
        #expect(result.stderr.contains("dns01: Cannot listen on 127.0.0.1:\(port) ([serve] listen): Address already in use.\n"), "\(result.stderr)")
    }

    /// Files 0600 in a 0700 directory; a username that is not a UUID never names a file.
    @Test func directoryStore() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("serve-store-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = DirectoryAcmeDNSRegistrationStore(stateDir: dir)
        let user = UUID().uuidString.lowercased()
        let registration = AcmeDNSRegistration(username: user, passwordHash: "$2b$10$x", subdomain: UUID().uuidString.lowercased(),
                                               allowFrom: ["192.0.2.0/24"], created: 1)
        try store.add(registration)
        #expect(throws: (any Error).self) { try store.add(registration) }
        try store.setValues(["a", "b"], username: user)
        #expect(try store.registration(username: user)?.values == ["a", "b"])
        let attributes = try FileManager.default.attributesOfItem(atPath: "\(dir)/acme-dns/\(user).json")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(throws: (any Error).self) { try store.registration(username: "../../etc/passwd") }
        #expect(try store.registration(username: UUID().uuidString.lowercased()) == nil)
    }
}
