import DNS
import Foundation
import Processes
import Providers
import Settings
import TestLab
import Testing

/// Issue 28: the native DNS host providers against their contract stand-ins
/// (Tests/Support/<kind>-api.py), which write every record into the lab's BIND: what the
/// provider leaves in DNS is read back from the real primary.
@Suite("DNS host providers") struct HostAPIProviderTests {
    /// One host: how to start its stand-in and configure its provider, and what it costs.
    struct Host: Sendable, CustomStringConvertible {
        var kind: String
        var basePath: String
        /// The setting that takes the stand-in's URL.
        var urlKey = "api_url"
        /// The `[[provider]]` settings besides type, name, zones, the credential and api_url.
        var extra: [String: SettingValue] = [:]
        /// The credential settings, given the stand-in's token file.
        var credential: @Sendable (_ tokenFile: String) -> [String: SettingValue] = { ["api_token_file": .string($0)] }
        /// API requests to present and clean up 20 certificates × 2 names (40 values at 20 names).
        var twentyCertificates: Int
        /// What the host says to a wrong credential, as the provider's error quotes it.
        var wrongToken: String
        var unknownZone: String
        /// Values that overflow the host's first page of a listing, where it pages.
        var pageOverflow: Int? = nil
        /// The host's error body holding `message`.
        var errorBody: @Sendable (_ message: String) -> [String: Any] = { ["message": $0] }
        var description: String { kind }
    }

    static let hosts: [Host] = [
        Host(kind: "digitalocean", basePath: "/v2", twentyCertificates: 81,
             wrongToken: "DigitalOcean answered Unable to authenticate you. (unauthorized), HTTP 401",
             unknownZone: "DigitalOcean has no domain other.test that this token can see", pageOverflow: 230,
             errorBody: { ["id": "bad_request", "message": $0] }),
        Host(kind: "hetzner", basePath: "/v1", twentyCertificates: 40,
             wrongToken: "Hetzner answered unable to authenticate (unauthorized), HTTP 401",
             unknownZone: "Hetzner has no zone other.test in the project of this API token",
             errorBody: { ["error": ["code": "invalid_input", "message": $0, "details": [:] as [String: Any]]] }),
        Host(kind: "desec", basePath: "/api/v1", twentyCertificates: 4,
             wrongToken: "deSEC answered Invalid token., HTTP 401",
             unknownZone: "deSEC has no domain other.test that this token can see", pageOverflow: 520,
             errorBody: { ["detail": $0] }),
        Host(kind: "gandi", basePath: "/v5/livedns", twentyCertificates: 42,
             wrongToken: "Gandi answered The server could not verify that you are authorized to access the document you requested. (HTTPUnauthorized), HTTP 401",
             unknownZone: "Gandi LiveDNS has no domain other.test that this token may manage",
             errorBody: { ["code": 400, "message": $0, "object": "HTTPBadRequest", "cause": "Bad Request"] }),
        // The lab's token file holds both the application secret and the consumer key.
        Host(kind: "ovh", basePath: "/1.0", urlKey: "endpoint",
             extra: ["application_key": .string("labOvhApplication")],
             credential: { ["application_secret_file": .string($0), "consumer_key_file": .string($0)] },
             twentyCertificates: 83,
             wrongToken: "OVH answered This credential does not exist (INVALID_CREDENTIAL), HTTP 403",
             unknownZone: "OVH has no zone other.test that this consumer key may manage",
             errorBody: { ["class": "Client::BadRequest", "message": $0] }),
    ]

    static func provider(_ host: Host, _ api: TestLab.HostAPI, zones: [String] = ["example.test"],
                         tokenFile: String? = nil, timeout: String? = nil) throws -> any DNSProvider {
        var values: [String: SettingValue] = ["type": .string(host.kind), "name": .string("p"),
                                              "zones": .array(zones.map { .string($0) }), host.urlKey: .string(api.baseURL)]
        values.merge(host.credential(tokenFile ?? api.tokenFile)) { $1 }
        values.merge(host.extra) { $1 }
        if let timeout { values["timeout"] = .string(timeout) }
        return try ProviderRegistry.make(Settings(context: "[[provider]]", values: values), stateDir: "/nonexistent",
                                         childEnvironment: .inheritAll)
    }

    static func start(_ host: Host, zones: [String] = ["example.test"]) async throws -> (TestLab, TestLab.HostAPI) {
        let lab = try await TestLab.start(.init(zones: zones, startPebble: false))
        do {
            return (lab, try await lab.startHostAPI(host.kind, basePath: host.basePath, zones: ["example.test"]))
        } catch {
            lab.stop()
            throw error
        }
    }

    static let name = "_acme-challenge.example.test"
    static func txt(_ lab: TestLab, _ name: String = name) throws -> [String] { try lab.txtValues(name, at: lab.primary) }

    /// Wildcard and apex values side by side, another value at the name that is not dns01's
    /// (a foreign one) kept; cleanup by a process that did not present (the lookup path) too.
    @Test(arguments: hosts) func presentAndCleanupKeepForeignValues(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host)
        defer { lab.stop() }
        let foreign = TXTRecord(name: Self.name, value: "someone-elses-value")
        let owner = try Self.provider(host, api)
        try await owner.present([foreign], zone: "example.test")
        let ours = [TXTRecord(name: Self.name, value: "wildcard-value-1"), TXTRecord(name: Self.name, value: "apex-value-2"),
                    TXTRecord(name: "_acme-challenge.www.example.test", value: "www-value-3")]
        let provider = try Self.provider(host, api)
        try await provider.present(ours, zone: "example.test")
        #expect(try Self.txt(lab) == ["apex-value-2", "someone-elses-value", "wildcard-value-1"])
        #expect(try Self.txt(lab, "_acme-challenge.www.example.test") == ["www-value-3"])
        try await provider.cleanup(ours, zone: "example.test")
        #expect(try Self.txt(lab) == ["someone-elses-value"])
        #expect(try Self.txt(lab, "_acme-challenge.www.example.test") == [])

        // Another process presents and a third cleans up (certbot's hooks, a journal replay).
        try await Self.provider(host, api).present([ours[0]], zone: "example.test")
        try await Self.provider(host, api).present([ours[0]], zone: "example.test")  // twice: a hook run again
        #expect(try Self.txt(lab) == ["someone-elses-value", "wildcard-value-1"])
        try await Self.provider(host, api).cleanup([ours[0]], zone: "example.test")
        #expect(try Self.txt(lab) == ["someone-elses-value"])
        try await owner.cleanup([foreign], zone: "example.test")
        #expect(try Self.txt(lab) == [])
    }

    /// A wrong credential: one sentence naming the provider, the zone, the record and the
    /// host's own message; the credential never in it.
    @Test(arguments: hosts) func aWrongTokenIsOneSentence(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host)
        defer { lab.stop() }
        let wrong = "\(lab.directory)/wrong-token"
        let original = try String(contentsOfFile: api.tokenFile, encoding: .utf8)
        // The same shape as the right one (OVH's holds three lines), every secret changed.
        try original.replacing("lab-", with: "bad-").write(toFile: wrong, atomically: true, encoding: .utf8)
        chmod(wrong, 0o600)
        let provider = try Self.provider(host, api, tokenFile: wrong)
        let error = await #expect(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: Self.name, value: "v1")], zone: "example.test")
        }
        let message = error?.message ?? ""
        print("\(host.kind) wrong token: \(message)")
        #expect(message.contains("provider 'p' (\(host.kind))") && message.contains("example.test") && message.contains(host.wrongToken), "\(message)")
        #expect(!message.contains("bad-") && !message.contains(api.token))
        #expect(try Self.txt(lab) == [])
    }

    @Test(arguments: hosts) func aZoneTheAccountLacksIsNamed(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host, zones: ["example.test", "other.test"])
        defer { lab.stop() }
        let provider = try Self.provider(host, api, zones: ["example.test", "other.test"])
        let error = await #expect(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: "_acme-challenge.other.test", value: "v1")], zone: "other.test")
        }
        let message = error?.message ?? ""
        print("\(host.kind) unknown zone: \(message)")
        #expect(message.contains("provider 'p' (\(host.kind))") && message.contains(host.unknownZone), "\(message)")
    }

    /// 429s with Retry-After are waited out and retried; a storm past the budget is one sentence.
    @Test(arguments: hosts) func tooManyRequestsAreRetriedAfterRetryAfter(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host)
        defer { lab.stop() }
        let provider = try Self.provider(host, api)
        let record = TXTRecord(name: Self.name, value: "after-429")
        try api.throttle(2)
        let start = ContinuousClock.now
        try await provider.present([record], zone: "example.test")
        // Retry-After: 1, twice; without it the back-off would wait 0.5 s and 1 s.
        #expect(ContinuousClock.now - start >= .seconds(2))
        #expect(try Self.txt(lab) == ["after-429"])
        try api.throttle(1000)
        // 8 s a request, 32 s in all: a loaded 2-core machine answers the stand-in late (2 s timed out).
        let impatient = try Self.provider(host, api, timeout: "8s")
        let error = await #expect(throws: ProviderError.self) {
            try await impatient.cleanup([record], zone: "example.test")
        }
        let message = error?.message ?? ""
        print("\(host.kind) 429 storm: \(message)")
        #expect(message.contains("429") && message.contains("example.test") && message.contains("slow down"), "\(message)")
        try api.throttle(0)
        try await provider.cleanup([record], zone: "example.test")
        #expect(try Self.txt(lab) == [])
    }

    /// Cleanup in another process looks the values up: past the host's first page too
    /// (DigitalOcean: 200 records a page; deSEC: 500 RRsets a page).
    @Test(arguments: hosts.filter { $0.pageOverflow != nil })
    func aLookupFollowsEveryPage(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host)
        defer { lab.stop() }
        let count = host.pageOverflow ?? 0
        let records = (1...count).map { TXTRecord(name: "_acme-challenge.p\($0).example.test", value: "value-\($0)") }
        try await Self.provider(host, api).present(records, zone: "example.test")
        #expect(try api.records() == count)
        try await Self.provider(host, api).cleanup(records, zone: "example.test")
        #expect(try api.records() == 0)
        #expect(try Self.txt(lab, "_acme-challenge.p\(count).example.test") == [])
    }

    /// STYLE.md 20: what a host says is untrusted text: the credential echoed back is redacted,
    /// control characters (a forged journald line, an ANSI escape) stripped, 200 KB clipped.
    @Test(arguments: hosts) func aHostileErrorMessageIsRedactedStrippedAndClipped(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host)
        defer { lab.stop() }
        let hostile = "bad request\n<0>dns01: forged line\u{1B}[31m token \(api.token) " + String(repeating: "A", count: 200_000)
        try api.fail(20, status: 400, body: host.errorBody(hostile))
        let error = await #expect(throws: ProviderError.self) {
            try await Self.provider(host, api).present([TXTRecord(name: Self.name, value: "v1")], zone: "example.test")
        }
        let message = error?.message ?? ""
        #expect(message.contains("bad request?<0>dns01: forged line?[31m token [redacted] AAAA"), "\(message.prefix(500))")
        #expect(!message.contains("\n") && !message.contains("\u{1B}") && !message.contains(api.token))
        #expect(message.utf8.count < 2_000, "\(message.utf8.count) bytes")
    }

    /// What a run of 20 certificates × 2 names (wildcard and apex) costs in API requests: one
    /// present and one cleanup of 40 values at 20 names in one zone, as the deployer groups them.
    @Test(arguments: hosts) func twentyCertificatesCostAKnownNumberOfRequests(_ host: Host) async throws {
        let (lab, api) = try await Self.start(host)
        defer { lab.stop() }
        let provider = try Self.provider(host, api)
        let records = (1...20).flatMap { index in
            [TXTRecord(name: "_acme-challenge.c\(index).example.test", value: "wildcard-\(index)"),
             TXTRecord(name: "_acme-challenge.c\(index).example.test", value: "apex-\(index)")]
        }
        try await provider.present(records, zone: "example.test")
        #expect(try Self.txt(lab, "_acme-challenge.c20.example.test") == ["apex-20", "wildcard-20"])
        try await provider.cleanup(records, zone: "example.test")
        #expect(try Self.txt(lab, "_acme-challenge.c20.example.test") == [])
        let requests = try api.requests()
        print("\(host.kind) 20 certificates × 2 names: \(requests.values.reduce(0, +)) requests \(requests)")
        #expect(requests.values.reduce(0, +) == host.twentyCertificates, "\(requests)")
    }
}
