import DNS
import Foundation
import Providers
import Settings
import Testing
import TestLab

/// Issue 28: `type = "google"` against the Cloud DNS stand-in (Tests/Support/google-api.py),
/// which checks each JWT's RS256 signature and writes every change into the lab's BIND.
@Suite("Google Cloud DNS provider") struct GoogleProviderTests {
    static let name = "_acme-challenge.example.test"

    static func provider(_ api: TestLab.GoogleAPI, name: String = "gc", zones: [String] = ["example.test"],
                         _ extra: [String: SettingValue] = [:]) throws -> GoogleProvider {
        let values: [String: SettingValue] = ["credentials_file": .string(api.keyFile), "api_url": .string(api.baseURL)]
        let settings = Settings(context: "[[provider]] '\(name)'", values: values.merging(extra) { $1 })
        return GoogleProvider(name: name, zones: zones, config: try GoogleProvider.Config(settings))
    }

    @Test func cleanupRemovesExactlyItsValuesAndKeepsOthers() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        // Someone else's value at the same name, written through the API.
        try await Self.provider(api, name: "other").present([TXTRecord(name: Self.name, value: "someone-else")], zone: "example.test")
        let provider = try Self.provider(api)
        let ours = [TXTRecord(name: Self.name, value: "wildcard-value"), TXTRecord(name: Self.name, value: "apex-value"),
                    TXTRecord(name: "_acme-challenge.www.example.test", value: "www-value")]
        try await provider.present(ours, zone: "example.test")
        #expect(Set(try lab.txtValues(Self.name, at: lab.primary)) == ["someone-else", "wildcard-value", "apex-value"])
        #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary) == ["www-value"])
        // Presenting again changes nothing and sends no change.
        try await provider.present(ours, zone: "example.test")
        try await provider.cleanup(ours, zone: "example.test")
        #expect(try lab.txtValues(Self.name, at: lab.primary) == ["someone-else"])
        #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary).isEmpty)
        let requests = try api.requests()
        // Three changes: the other value, ours in, ours out. One token per provider.
        #expect(requests["POST /dns/v1/projects/{project}/managedZones/{zone}/changes"] == 3, "\(requests)")
        #expect(requests["POST /token"] == 2, "\(requests)")
        #expect(requests["GET /dns/v1/projects/{project}/managedZones"] == 2, "\(requests)")
    }

    /// 20 certificates × 2 names (a wildcard and its apex share one name): one token, one zone
    /// lookup, one change in and one out; reads are one per name and phase.
    @Test func twentyCertificatesTakeOneChangeEachWay() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        let provider = try Self.provider(api)
        let records = (1...20).flatMap { index in
            ["wildcard", "apex"].map { TXTRecord(name: "_acme-challenge.c\(index).example.test", value: "\($0)-\(index)") }
        }
        try await provider.present(records, zone: "example.test")
        #expect(Set(try lab.txtValues("_acme-challenge.c7.example.test", at: lab.primary)) == ["wildcard-7", "apex-7"])
        try await provider.cleanup(records, zone: "example.test")
        #expect(try lab.txtValues("_acme-challenge.c7.example.test", at: lab.primary).isEmpty)
        let requests = try api.requests()
        #expect(requests["POST /dns/v1/projects/{project}/managedZones/{zone}/changes"] == 2, "\(requests)")
        #expect(requests["GET /dns/v1/projects/{project}/managedZones/{zone}/rrsets"] == 40, "\(requests)")
        #expect(requests["POST /token"] == 1 && requests["GET /dns/v1/projects/{project}/managedZones"] == 1, "\(requests)")
        #expect(requests.values.reduce(0, +) == 44, "\(requests)")
    }

    /// With `managed_zone` there is no lookup, and the first reads, a few at once, share one token.
    @Test func aConfiguredManagedZoneSkipsTheLookupAndOneTokenServesAll() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        let provider = try Self.provider(api, ["managed_zone": .string("example-test"), "zones": .array([.string("example.test")])])
        let records = (1...8).map { TXTRecord(name: "_acme-challenge.n\($0).example.test", value: "v\($0)") }
        try await provider.present(records, zone: "example.test")
        #expect(try lab.txtValues("_acme-challenge.n8.example.test", at: lab.primary) == ["v8"])
        let requests = try api.requests()
        #expect(requests["POST /token"] == 1 && requests["GET /dns/v1/projects/{project}/managedZones"] == nil, "\(requests)")
    }

    /// Three writers (other processes, to Google) adding at one name at once: Google refuses a
    /// change whose sets moved (409 alreadyExists / 412 conditionNotMet), and each re-reads and
    /// tries again, so every value arrives and none is overwritten.
    @Test func concurrentWritersAtOneNameAllLand() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        let providers = try (1...3).map { try Self.provider(api, name: "writer\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, provider) in providers.enumerated() {
                group.addTask { try await provider.present([TXTRecord(name: Self.name, value: "writer-\(index)")], zone: "example.test") }
            }
            try await group.waitForAll()
        }
        #expect(Set(try lab.txtValues(Self.name, at: lab.primary)) == ["writer-0", "writer-1", "writer-2"])
    }

    @Test func aWrongKeyIsOneSentenceWithoutTheKey() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        let wrong = "\(lab.directory)/wrong-key.json"
        try api.writeWrongKey(to: wrong)
        let provider = try Self.provider(api, ["credentials_file": .string(wrong)])
        let error = await #expect(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: Self.name, value: "v1")], zone: "example.test")
        }
        let message = error?.message ?? ""
        // Nothing was written, so nothing waits in the journal for a cleanup.
        #expect(error?.wroteNothing == true)
        #expect(message.hasPrefix("provider 'gc' (google) could not look up zone example.test: Google's token endpoint (127.0.0.1:\(api.tokenPort)) refused to give a token: invalid_grant: Invalid JWT Signature., HTTP 400"), "\(message)")
        #expect(!message.contains("PRIVATE KEY"))
        #expect(try lab.txtValues(Self.name, at: lab.primary).isEmpty)
    }

    @Test func aZoneTheProjectLacksIsNamed() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI(zones: ["example.test"])
        let provider = try Self.provider(api, zones: ["example.test", "other.test"])
        let error = await #expect(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: "_acme-challenge.other.test", value: "v1")], zone: "other.test")
        }
        #expect(error?.wroteNothing == true)
        #expect(error?.message == "provider 'gc' (google): Google Cloud DNS has no public managed zone other.test in project dns01-lab that this service account can see.")
    }

    /// Hardening "Trust, round two" item 4: the vendor's error message is untrusted text.
    @Test func aHostileErrorMessageIsStrippedAndClipped() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        // A forged journald line, an ANSI escape and 200 KB.
        try api.fail(20, message: "bad request\n<0>dns01: forged line\u{1B}[31m " + String(repeating: "A", count: 200_000))
        let error = await #expect(throws: ProviderError.self) {
            try await Self.provider(api).present([TXTRecord(name: Self.name, value: "v1")], zone: "example.test")
        }
        let message = error?.message ?? ""
        #expect(!message.contains("\n") && !message.contains("\u{1B}") && message.utf8.count < 1_000, "\(message.prefix(2000))")
        #expect(message.contains("Google Cloud DNS answered bad request?<0>dns01: forged line?[31m AAAA"), "\(message.prefix(2000))")
    }

    /// 429 with Retry-After: retried after it and then written; a storm past the budget ends in
    /// one sentence naming the 429, the zone and the record.
    @Test func rateLimitsAreWaitedOutThenReported() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startGoogleAPI()
        let provider = try Self.provider(api, ["timeout": .string("8s")])
        try api.throttle(2)
        try await provider.present([TXTRecord(name: Self.name, value: "after-429")], zone: "example.test")
        #expect(try lab.txtValues(Self.name, at: lab.primary) == ["after-429"])
        // The token request was answered 429 twice, then went through.
        let requests = try api.requests()
        #expect(requests["POST /token"] == 3 && requests["POST /dns/v1/projects/{project}/managedZones/{zone}/changes"] == 1, "\(requests)")

        try api.throttle(1000)
        let error = await #expect(throws: ProviderError.self) {
            try await provider.cleanup([TXTRecord(name: Self.name, value: "after-429")], zone: "example.test")
        }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("provider 'gc' (google) could not remove 1 TXT value(s) in zone example.test (\(Self.name)): Google Cloud DNS answered Quota exceeded"), "\(message)")
        #expect(message.hasSuffix("HTTP 429; it kept asking to slow down (429) past the retries"), "\(message)")
        try api.throttle(0)
    }
}

/// The key's checks, before any request.
@Suite("Google Cloud DNS provider: config") struct GoogleProviderConfigTests {
    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var values: [String: SettingValue]
        var fileText: String?
        var mode: Int = 0o600
        var message: String
    }

    static let cases: [Case] = [
        Case(description: "inline key", values: ["private_key": .string("-----BEGIN PRIVATE KEY-----")],
             message: "the service account key never goes in the config"),
        Case(description: "no key", values: [:], message: "set credentials_file (a 0600 file holding a service account's JSON key) or credentials_env."),
        Case(description: "readable by others", values: [:], fileText: "{}", mode: 0o644, message: "is readable by others (mode 644): chmod 600 it."),
        Case(description: "not JSON", values: [:], fileText: "not json", message: "is not JSON"),
        Case(description: "not a service account", values: [:], fileText: #"{"type": "authorized_user"}"#,
             message: "is not a service account key (its type is 'authorized_user', not 'service_account')."),
        Case(description: "no private key", values: [:],
             fileText: #"{"type": "service_account", "client_email": "a@b.iam.gserviceaccount.com", "private_key": "junk"}"#,
             message: "holds no RSA private key that can sign (private_key)."),
        Case(description: "unset variable", values: ["credentials_env": .string("DNS01_TEST_UNSET_GOOGLE_KEY")],
             message: "the environment variable DNS01_TEST_UNSET_GOOGLE_KEY (credentials_env) is not set."),
    ]

    @Test(arguments: cases) func refused(_ item: Case) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("google-config-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var values = item.values
        if let text = item.fileText {
            let path = "\(dir)/key.json"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: item.mode], ofItemAtPath: path)
            values["credentials_file"] = .string(path)
        }
        let error = #expect(throws: ConfigError.self) {
            _ = try GoogleProvider.Config(Settings(context: "[[provider]] 'gc'", values: values), environment: [:])
        }
        #expect(error.map { "\($0)" }?.contains(item.message) == true, "\(error.map { "\($0)" } ?? "")")
        #expect(error.map { "\($0)" }?.hasPrefix("[[provider]] 'gc': ") == true)
    }
}
