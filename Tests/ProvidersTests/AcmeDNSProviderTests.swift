import DNS
import Foundation
@testable import Providers
import Settings
import TestLab
import Testing

/// Issue 28: `type = "acme-dns"` against the acme-dns stand-in (Tests/Support/acme-dns-api.py),
/// which writes each subdomain's two values into the lab's BIND.
@Suite("acme-dns provider") struct AcmeDNSProviderTests {
    static let wildcard = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
    static let apex = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"
    static let third = "Xk2vKq0n7Wm1uZ9yT3bR5sC8dF4gH6jL0pQ2wE7rT1y"

    /// A registration file for example.test (0600 unless `mode` says otherwise); returns its path.
    static func registrationFile(_ registration: [String: Any], in lab: TestLab, mode: Int = 0o600) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: ["example.test": registration])
        return try writeFile(String(decoding: data, as: UTF8.self), in: lab.directory, mode: mode)
    }

    static func provider(_ api: TestLab.AcmeDNSAPI, file: String, transport: CountingTransport) throws -> AcmeDNSProvider {
        AcmeDNSProvider(name: "acmedns", zones: [], config: try AcmeDNSProvider.Config(providerSettings(["api_base": api.baseURL, "registration_file": file])),
                        transport: transport)
    }

    @Test func wildcardAndApexValuesAreBothServedAndCleanupLeavesThem() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "acme.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAcmeDNS(zone: "acme.test")
        let registration = try api.register()
        let fulldomain = try #require(registration["fulldomain"] as? String)
        let transport = CountingTransport()
        let provider = try Self.provider(api, file: try Self.registrationFile(registration, in: lab), transport: transport)
        // With no zones configured, the provider serves its registrations' fulldomains.
        #expect(provider.zones == [fulldomain])
        let records = [TXTRecord(name: fulldomain, value: Self.wildcard), TXTRecord(name: fulldomain, value: Self.apex)]
        try await provider.present(records, zone: "acme.test")
        #expect(try lab.txtValues(fulldomain, at: lab.primary) == [Self.apex, Self.wildcard].sorted())
        #expect(transport.requests == ["POST /update": 2], "\(transport.requests)")
        try await provider.cleanup(records, zone: "acme.test")
        #expect(transport.total == 2, "acme-dns has no delete: \(transport.requests)")

        // Three values at one subdomain cannot all be served: refused before any request.
        let error = try await #require(throws: ProviderError.self) {
            try await provider.present(records + [TXTRecord(name: fulldomain, value: Self.third)], zone: "acme.test")
        }
        #expect(error.message == """
            provider 'acmedns' (acme-dns): 3 TXT values are due at \(fulldomain) (zone acme.test) at once, and acme-dns at \
            \(api.baseURL.dropFirst(7)) keeps only the 2 most recent of a subdomain; issue the names that share it in separate certificates.
            """)
        #expect(error.wroteNothing && transport.total == 2)
    }

    /// A 503 with Retry-After (a proxy in front of acme-dns) is waited out and retried.
    @Test func retryAfterIsHonoured() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "acme.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAcmeDNS(zone: "acme.test")
        let registration = try api.register()
        let fulldomain = try #require(registration["fulldomain"] as? String)
        let transport = CountingTransport()
        let provider = try Self.provider(api, file: try Self.registrationFile(registration, in: lab), transport: transport)
        try api.throttle(1)
        try await provider.present([TXTRecord(name: fulldomain, value: Self.apex)], zone: "acme.test")
        #expect(transport.requests == ["POST /update": 2], "\(transport.requests)")
        #expect(try api.requests()["POST /update"] == 2)
        #expect(try lab.txtValues(fulldomain, at: lab.primary) == [Self.apex])
    }

    @Test func aWrongPasswordAndAnUnknownNameAreOneSentenceEach() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "acme.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAcmeDNS(zone: "acme.test")
        var registration = try api.register()
        let fulldomain = try #require(registration["fulldomain"] as? String)
        let subdomain = try #require(registration["subdomain"] as? String)
        let wrong = "wrong-password-wrong-password-wrong-pass"
        registration["password"] = wrong
        let file = try Self.registrationFile(registration, in: lab)
        let provider = try Self.provider(api, file: file, transport: CountingTransport())
        let denied = try await #require(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: fulldomain, value: Self.apex)], zone: "acme.test")
        }
        #expect(denied.message == """
            provider 'acmedns' (acme-dns) could not set the TXT value of \(fulldomain) (zone acme.test) at acme-dns \(api.baseURL.dropFirst(7)): \
            acme-dns refused the username and password of subdomain \(subdomain) (HTTP 401 "forbidden"); check the registration in \(file) and its allowfrom networks
            """)
        #expect(!denied.message.contains(wrong))

        let unknown = try await #require(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: "other.acme.test", value: Self.apex)], zone: "acme.test")
        }
        #expect(unknown.message.hasPrefix("provider 'acmedns' (acme-dns): no registration in \(file) has the fulldomain other.acme.test (zone acme.test)"),
                "\(unknown.message)")
    }

    @Test func registrationFilesAreCheckedWithoutQuotingThem() throws {
        let directory = FileManager.default.temporaryDirectory.path + "/dns01-acmedns-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let good = #"{"example.test": {"username": "u-1", "password": "secret-password-123", "fulldomain": "abc.acme.test.", "subdomain": "abc", "allowfrom": []}}"#
        func error(_ text: String, mode: Int = 0o600) throws -> String {
            let file = try writeFile(text, in: directory, mode: mode)
            let error = try #require(throws: ConfigError.self) {
                try AcmeDNSProvider.Config(providerSettings(["api_base": "https://auth.example.org", "registration_file": file]))
            }
            return error.description.replacingOccurrences(of: file, with: "FILE")
        }
        #expect(try error(good, mode: 0o644) == "[[provider]] 'test': the acme-dns registration file FILE is readable by others (mode 644): chmod 600 it.")
        #expect(try error("secret-password-123 not json") == "[[provider]] 'test': the acme-dns registration file FILE is not a JSON object of domain → {\"username\", \"password\", \"fulldomain\", \"subdomain\"} (as lego and certbot-dns-acmedns write it).")
        #expect(try error(#"{"example.test": {"username": "u", "password": "", "fulldomain": "a.b", "subdomain": "a"}}"#)
                == "[[provider]] 'test': the acme-dns registration of example.test in FILE lacks a username, password, subdomain or fulldomain (each printable ASCII).")
        let config = try AcmeDNSProvider.Config(providerSettings(["api_base": "https://auth.example.org/", "registration_file": try writeFile(good, in: directory)]))
        #expect(config.registrations.keys.sorted() == ["abc.acme.test"])
        #expect(config.apiBase == "https://auth.example.org")
        let inline = try #require(throws: ConfigError.self) {
            try AcmeDNSProvider.Config(providerSettings(["api_base": "https://auth.example.org", "password": "x"]))
        }
        #expect(inline.description.contains("never go in the config"))
    }
}
