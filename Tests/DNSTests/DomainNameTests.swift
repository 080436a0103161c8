@testable import DNS
import Testing

@Suite struct DomainNameTests {
    @Test(arguments: [
        ("example.test", false, "example.test"),
        ("Example.TEST.", false, "example.test"),
        ("*.example.test", true, "*.example.test"),
        ("xn--bcher-kva.example", false, "xn--bcher-kva.example"),
        ("a-b.c1.example", false, "a-b.c1.example"),
        (String(repeating: "a", count: 63) + ".test", false, String(repeating: "a", count: 63) + ".test"),
    ])
    func valid(_ name: String, _ wildcard: Bool, _ expected: String) throws {
        #expect(try DomainName.normalize(name, allowWildcard: wildcard) == expected)
    }

    @Test(arguments: [
        ("bad..name", "empty label"),
        (String(repeating: "a", count: 64) + ".test", "more than 63"),
        ("*.*.x.test", "leftmost"),
        ("a*.x.test", "'*'"),
        ("-a.x.test", "'-'"),
        ("a-.x.test", "'-'"),
        ("test", "single label"),
        ("", "empty"),
        ("*.test", "at least two labels"),
        ("exa mple.test", "' '"),
        ("_acme.example.test", "'_'"),
        ((0..<26).map { _ in "abcdefghi" }.joined(separator: "."), "more than 253"),
    ])
    func invalid(_ name: String, _ reason: String) {
        do {
            _ = try DomainName.normalize(name, allowWildcard: true)
            Issue.record("\(name) was accepted")
        } catch let error as DNSError {
            #expect(error.code == .invalidName)
            #expect(error.message.contains(reason), "\(error.message)")
            #expect(error.message.contains("is not a valid domain name"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// RFC 8555 §7.1.3: "*.x" is a wildcard for x; a '*' anywhere else is no wildcard prefix.
    @Test(arguments: [
        ("*.example.com", "example.com", true), ("example.com", "example.com", false),
        ("*.Example.COM.", "Example.COM.", true), ("a*.example.com", "a*.example.com", false),
        ("*", "*", false), ("*.", "", true),
    ])
    func baseStripsOnlyAWildcardPrefix(_ identifier: String, _ base: String, _ wildcard: Bool) {
        #expect(DomainName.base(of: identifier) == base)
        #expect(DomainName.isWildcard(identifier) == wildcard)
    }

    @Test func wildcardOnlyWhenAllowed() {
        #expect(throws: DNSError.self) { try DomainName.normalize("*.example.test") }
    }

    @Test func underscoreWhenAllowed() throws {
        #expect(try DomainName.normalize("_acme-challenge.example.test", allowUnderscore: true) == "_acme-challenge.example.test")
    }

    @Test(arguments: [
        ("example.test", "_acme-challenge.example.test"),
        ("*.example.test", "_acme-challenge.example.test"),
        ("WWW.Example.test.", "_acme-challenge.www.example.test"),
    ])
    func challengeName(_ identifier: String, _ expected: String) {
        #expect(DomainName.challengeName(for: identifier) == expected)
    }

    @Test func subdomains() {
        #expect(DomainName.isSubdomain("a.example.test", of: "example.test"))
        #expect(DomainName.isSubdomain("example.test.", of: "Example.test"))
        #expect(!DomainName.isSubdomain("badexample.test", of: "example.test"))
        #expect(!DomainName.isSubdomain("example.test", of: "a.example.test"))
    }

    @Test(arguments: [
        ("127.0.0.1", "127.0.0.1", UInt16(53), "127.0.0.1:53"),
        ("127.0.0.1:5353", "127.0.0.1", 5353, "127.0.0.1:5353"),
        ("[::1]:5353", "::1", 5353, "[::1]:5353"),
        ("::1", "::1", 53, "[::1]:53"),
        ("2001:db8::53", "2001:db8::53", 53, "[2001:db8::53]:53"),
    ])
    func serverParsing(_ text: String, _ host: String, _ port: UInt16, _ description: String) throws {
        let server = try DNSServer(parsing: text)
        #expect(server.host == host && server.port == port && server.description == description)
    }

    @Test(arguments: ["ns1.example.test", "127.0.0.1:0", "127.0.0.1:99999", "[::1", "1.2.3", "127.0.0.1:x"])
    func badServers(_ text: String) {
        #expect(throws: DNSError.self) { try DNSServer(parsing: text) }
    }
}

/// A challenge record's name must still be a DNS name: at most 253 octets.
@Suite struct ChallengeRoomTests {
    /// A name of exactly `octets` octets, in labels of at most 63.
    static func name(_ octets: Int) -> String {
        var labels: [String] = []
        var left = octets
        while left > 63 {
            labels.append(String(repeating: "a", count: 62))
            left -= 63
        }
        labels.append(String(repeating: "b", count: left))
        return labels.joined(separator: ".")
    }

    @Test(arguments: [
        (237, 16, true), (238, 16, false), (253, 16, false),
        (219, 34, true), (220, 34, false),
        (233, 20, true), (234, 20, false),
    ])
    func room(_ octets: Int, _ prefix: Int, _ fits: Bool) throws {
        let base = Self.name(octets)
        #expect(base.utf8.count == octets)
        for identifier in [base, "*." + base] {
            if fits {
                try DomainName.requireRoom(forPrefix: "_p.", octets: prefix, before: identifier)
            } else {
                let error = #expect(throws: DNSError.self) { try DomainName.requireRoom(forPrefix: "_p.", octets: prefix, before: identifier) }
                #expect(error?.code == .invalidName)
                #expect(error?.message.contains("'\(base)' is \(octets) octets long, too long for its challenge record _p.\(base), which would be \(octets + prefix) octets, more than the 253 of a DNS name (at most \(253 - prefix) octets fit).") == true,
                        "\(error?.message ?? "")")
            }
        }
    }
}
