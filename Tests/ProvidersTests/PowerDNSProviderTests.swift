import DNS
import Foundation
@testable import Providers
import Settings
import TestLab
import Testing

/// Issue 28: `type = "powerdns"` against the real pdns_server (Debian's pdns-server, gsqlite3),
/// with the lab's BIND secondary transferring the zone from it.
@Suite("PowerDNS provider") struct PowerDNSProviderTests {
    static func provider(_ pdns: PowerDNS, zones: [String], keyFile: String? = nil, extra: [String: Any] = [:],
                         transport: CountingTransport) throws -> PowerDNSProvider {
        var values: [String: Any] = ["api_url": pdns.apiURL, "api_key_file": keyFile ?? pdns.keyFile]
        values.merge(extra) { $1 }
        return PowerDNSProvider(name: "pdns", zones: zones, config: try PowerDNSProvider.Config(providerSettings(values)), transport: transport)
    }

    static let wildcard = "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
    static let apex = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

    /// 41 values at 21 names, and an unrelated value at one of them: one GET and one PATCH each
    /// way; the unrelated value stays; the secondary serves the values (the serial moved).
    @Test func presentAndCleanupTakeTwoRequestsPerZoneAndLeaveOtherValues() async throws {
        let lab = try await TestLab.start(.init(startPebble: false, powerDNSZones: ["pdns.test"]))
        defer { lab.stop() }
        let pdns = try #require(lab.powerDNS)
        let transport = CountingTransport()
        let provider = try Self.provider(pdns, zones: ["pdns.test"], transport: transport)
        var records = [TXTRecord(name: "_acme-challenge.pdns.test", value: Self.wildcard), TXTRecord(name: "_acme-challenge.pdns.test", value: Self.apex)]
        for index in 1...20 {
            records.append(TXTRecord(name: "_acme-challenge.c\(index).pdns.test", value: "value-\(index)-" + String(repeating: "x", count: 30)))
        }
        records.append(TXTRecord(name: "_acme-challenge.c1.pdns.test", value: "second-value-of-c1-" + String(repeating: "y", count: 24)))
        try await provider.present(records, zone: "pdns.test")
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == [Self.apex, Self.wildcard, "unrelated"].sorted())
        #expect(try pdns.txtValues("_acme-challenge.c1.pdns.test").count == 2)
        #expect(transport.requests == ["GET /api/v1/servers/localhost/zones/pdns.test.": 1, "PATCH /api/v1/servers/localhost/zones/pdns.test.": 1],
                "\(transport.requests)")
        // SOA-EDIT-API moved the serial, so the BIND secondary transferred the change.
        #expect(try await eventually { try lab.txtValues("_acme-challenge.c20.pdns.test", at: lab.secondary).count == 1 })

        // Present again (a hook run twice): nothing to change, so no PATCH.
        try await provider.present(Array(records.prefix(2)), zone: "pdns.test")
        #expect(transport.requests["PATCH /api/v1/servers/localhost/zones/pdns.test."] == 1, "\(transport.requests)")

        try await provider.cleanup(records, zone: "pdns.test")
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
        #expect(try pdns.txtValues("_acme-challenge.c1.pdns.test").isEmpty)
        #expect(transport.requests == ["GET /api/v1/servers/localhost/zones/pdns.test.": 3, "PATCH /api/v1/servers/localhost/zones/pdns.test.": 2],
                "\(transport.requests)")
        #expect(try await eventually { try lab.txtValues("_acme-challenge.pdns.test", at: lab.secondary) == ["unrelated"] })
    }

    /// A zone without SOA-EDIT-API: its secondaries would never see the change, so present
    /// refuses it before writing, naming the zone and the setting; no_secondaries = true writes.
    @Test func aZoneWithoutSOAEditAPIIsRefusedBeforeAnythingIsWritten() async throws {
        let pdns = try await PowerDNS.start(zones: ["plain.test"])
        defer { pdns.stop() }
        let transport = CountingTransport()
        let provider = try Self.provider(pdns, zones: ["plain.test"], transport: transport)
        let record = TXTRecord(name: "_acme-challenge.plain.test", value: Self.apex)
        let error = try await #require(throws: ProviderError.self) { try await provider.present([record], zone: "plain.test") }
        #expect(error.message == """
            provider 'pdns' (powerdns): zone plain.test on PowerDNS at \(pdns.apiURL.dropFirst(7)) has SOA-EDIT-API not set, so a change through \
            the API keeps its SOA serial and the zone's secondaries would never transfer the TXT records for _acme-challenge.plain.test: \
            set it (pdnsutil set-meta plain.test SOA-EDIT-API DEFAULT), or set no_secondaries = true on this provider if no server transfers the zone.
            """, "\(error.message)")
        #expect(error.wroteNothing)
        #expect(transport.requests == ["GET /api/v1/servers/localhost/zones/plain.test.": 1], "\(transport.requests)")
        #expect(try pdns.txtValues("_acme-challenge.plain.test") == ["unrelated"])

        let allowed = try Self.provider(pdns, zones: ["plain.test"], extra: ["no_secondaries": true], transport: transport)
        try await allowed.present([record], zone: "plain.test")
        #expect(try pdns.txtValues("_acme-challenge.plain.test") == [Self.apex, "unrelated"].sorted())
    }

    @Test func aWrongKeyAndAnUnknownZoneAreOneSentenceEach() async throws {
        let pdns = try await PowerDNS.start(zones: ["pdns.test"], soaEditAPI: "DEFAULT")
        defer { pdns.stop() }
        let record = TXTRecord(name: "_acme-challenge.pdns.test", value: Self.apex)
        let wrongKey = try writeFile("not-the-key\n", in: pdns.directory)
        let denied = try await #require(throws: ProviderError.self) {
            try await Self.provider(pdns, zones: ["pdns.test"], keyFile: wrongKey, transport: CountingTransport()).present([record], zone: "pdns.test")
        }
        let host = pdns.apiURL.dropFirst(7)
        #expect(denied.message == "provider 'pdns' (powerdns) could not add TXT records in zone pdns.test (_acme-challenge.pdns.test): PowerDNS at \(host) refused the API key (HTTP 401); check api_key_file or api_key_env against pdns_server's api-key.")
        #expect(!denied.message.contains("not-the-key"))

        let unknown = try await #require(throws: ProviderError.self) {
            try await Self.provider(pdns, zones: ["nope.test"], transport: CountingTransport())
                .present([TXTRecord(name: "_acme-challenge.nope.test", value: Self.apex)], zone: "nope.test")
        }
        #expect(unknown.message == "provider 'pdns' (powerdns) could not add TXT records in zone nope.test (_acme-challenge.nope.test): PowerDNS at \(host) (server_id localhost) has no zone nope.test.")
        #expect(try pdns.txtValues("_acme-challenge.pdns.test") == ["unrelated"])
    }

    struct ConfigCase: Sendable, CustomStringConvertible {
        var values: [String: String]
        var message: String
        var description: String { message }
    }

    @Test(arguments: [
        ConfigCase(values: ["api_url": "http://127.0.0.1:8081", "api_key": "k"],
                   message: "[[provider]] 'test': the API key never goes in the config: put it in a 0600 file named by api_key_file, or an environment variable named by api_key_env."),
        // The key in the config is what the user hears about, even beside an unknown key.
        ConfigCase(values: ["api_url": "http://127.0.0.1:8081", "key": "k", "zone_name": "x"],
                   message: "[[provider]] 'test': the API key never goes in the config: put it in a 0600 file named by api_key_file, or an environment variable named by api_key_env."),
        ConfigCase(values: ["api_url": "http://127.0.0.1:8081"],
                   message: "[[provider]] 'test': set api_key_file (a 0600 file holding the api-key of pdns_server's webserver) or api_key_env."),
        ConfigCase(values: ["api_url": "http://127.0.0.1:8081", "api_key_env": "DNS01_TEST_UNSET_PDNS_KEY"],
                   message: "[[provider]] 'test': the environment variable DNS01_TEST_UNSET_PDNS_KEY (api_key_env) is not set."),
        ConfigCase(values: ["api_key_env": "PDNS_KEY"],
                   message: "[[provider]] 'test': set api_url, the address of pdns_server's webserver (like \"http://127.0.0.1:8081\")."),
        ConfigCase(values: ["api_url": "ftp://pdns", "api_key_env": "PDNS_KEY"],
                   message: "[[provider]] 'test': api_url 'ftp://pdns' is not an http(s) URL."),
        ConfigCase(values: ["api_url": "http://127.0.0.1:8081", "api_key_env": "PDNS_KEY", "server_id": "../x"],
                   message: "[[provider]] 'test': server_id '../x' is not a PowerDNS server id (letters, digits, '-', '_', '.'; usually \"localhost\")."),
    ])
    func badConfigIsOneSentence(_ item: ConfigCase) throws {
        let error = try #require(throws: ConfigError.self) {
            try PowerDNSProvider.Config(providerSettings(item.values), environment: ["PDNS_KEY": "the-key"])
        }
        #expect(error.description == item.message)
    }

    @Test func anAPIURLMayEndInAPIV1() throws {
        let config = try PowerDNSProvider.Config(providerSettings(["api_url": "https://pdns.example:8081/api/v1/", "api_key_env": "K"]),
                                                 environment: ["K": "secret"])
        #expect(config.apiURL == "https://pdns.example:8081")
        #expect(config.host == "pdns.example:8081")
    }

    struct ChangeCase: Sendable, CustomStringConvertible {
        var name: String
        var current: [String]
        var add: [String]
        var remove: [String]
        /// The contents PATCHed after adding, nil for no change; then after removing ("DELETE" for a delete).
        var added: [String]?
        var removed: [String]?
        var description: String { name }
    }

    @Test(arguments: [
        ChangeCase(name: "new set", current: [], add: ["a"], remove: ["a"], added: ["\"a\""], removed: nil),
        ChangeCase(name: "others kept", current: ["\"other\""], add: ["a", "b"], remove: ["a", "b"],
                   added: ["\"other\"", "\"a\"", "\"b\""], removed: nil),
        ChangeCase(name: "ours among others", current: ["\"other\"", "\"a\""], add: [], remove: ["a"],
                   added: nil, removed: ["\"other\""]),
        ChangeCase(name: "already there", current: ["\"a\""], add: ["a"], remove: ["a"], added: nil, removed: ["DELETE"]),
        ChangeCase(name: "split strings", current: ["\"a\" \"b\""], add: ["ab"], remove: ["ab"], added: nil, removed: ["DELETE"]),
        ChangeCase(name: "only ours removed", current: ["\"a\"", "\"keep\""], add: ["b"], remove: ["b"],
                   added: ["\"a\"", "\"keep\"", "\"b\""], removed: nil),
    ])
    func readModifyWrite(_ item: ChangeCase) {
        let name = "_acme-challenge.example.test"
        let rrsets = item.current.isEmpty ? [] : [PowerDNSClient.RRset(name: name + ".", type: "TXT", ttl: 300, changetype: nil,
                                                                        records: item.current.map { .init(content: $0, disabled: false) })]
        let added = PowerDNSProvider.changes(adding: item.add.map { TXTRecord(name: name, value: $0) }, to: rrsets, ttl: 60)
        #expect(added.first?.records?.map(\.content) == item.added)
        if let first = added.first {
            #expect(first.changetype == "REPLACE" && first.ttl == (item.current.isEmpty ? 60 : 300))
        }
        let removed = PowerDNSProvider.changes(removing: item.remove.map { TXTRecord(name: name, value: $0) }, from: rrsets)
        #expect(removed.first.map { $0.changetype == "DELETE" ? ["DELETE"] : ($0.records ?? []).map(\.content) } == item.removed)
    }

    @Test(arguments: [("DEFAULT", true), ("INCREASE", true), ("EPOCH", true), ("", false), ("OFF", false), ("off", false)])
    func soaEditAPIValues(_ value: String, _ bumps: Bool) {
        #expect(PowerDNSProvider.bumpsSerial(value) == bumps)
    }

    @Test(arguments: ["plain", "with \"quote\"", "back\\slash"])
    func quotingRoundTrips(_ value: String) {
        #expect(PowerDNSProvider.unquote(PowerDNSProvider.quote(value)) == value)
    }
}
