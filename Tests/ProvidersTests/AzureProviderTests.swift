import DNS
import Foundation
import Providers
import Settings
import Testing
import TestLab

/// Issue 28: `type = "azure"` against the Azure DNS stand-in (Tests/Support/azure-api.py), which
/// writes every record set into the lab's BIND.
@Suite("Azure DNS provider") struct AzureProviderTests {
    static let name = "_acme-challenge.example.test"
    static let setPath = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/dnszones/{zone}/TXT/{name}"

    static func provider(_ api: TestLab.AzureAPI, name: String = "az", zones: [String] = ["example.test"],
                         _ extra: [String: SettingValue?] = [:]) throws -> AzureProvider {
        var values: [String: SettingValue] = [
            "subscription_id": .string(api.subscriptionID), "tenant_id": .string(api.tenantID), "client_id": .string(api.clientID),
            "client_secret_file": .string(api.secretFile), "api_url": .string(api.baseURL), "authority_url": .string(api.baseURL),
        ]
        for (key, value) in extra { values[key] = value }
        let settings = Settings(context: "[[provider]] '\(name)'", values: values)
        return AzureProvider(name: name, zones: zones, config: try AzureProvider.Config(settings))
    }

    @Test func cleanupRemovesExactlyItsValuesAndKeepsOthers() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        // Someone else's value at the same name, written through the API by a managed identity.
        let other = try Self.provider(api, name: "other", ["managed_identity": .bool(true), "tenant_id": nil, "client_secret_file": nil,
                                                           "metadata_url": .string(api.metadataURL)])
        try await other.present([TXTRecord(name: Self.name, value: "someone-else")], zone: "example.test")
        let provider = try Self.provider(api)
        let ours = [TXTRecord(name: Self.name, value: "wildcard-value"), TXTRecord(name: Self.name, value: "apex-value"),
                    TXTRecord(name: "_acme-challenge.www.example.test", value: "www-value")]
        try await provider.present(ours, zone: "example.test")
        #expect(Set(try lab.txtValues(Self.name, at: lab.primary)) == ["someone-else", "wildcard-value", "apex-value"])
        #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary) == ["www-value"])
        try await provider.cleanup(ours, zone: "example.test")
        #expect(try lab.txtValues(Self.name, at: lab.primary) == ["someone-else"])
        #expect(try lab.txtValues("_acme-challenge.www.example.test", at: lab.primary).isEmpty)
        let requests = try api.requests()
        #expect(requests["GET /metadata/identity/oauth2/token"] == 1 && requests["POST /{tenant}/oauth2/v2.0/token"] == 1, "\(requests)")
        // other: one PUT; ours: two PUTs in, one PUT (keeping someone-else) and one DELETE out.
        #expect(requests["PUT \(Self.setPath)"] == 4 && requests["DELETE \(Self.setPath)"] == 1, "\(requests)")
    }

    /// 20 certificates × 2 names (a wildcard and its apex share one name): one token, one zone
    /// list, and per name one read and one write each way (ARM has no batch for record sets).
    @Test func twentyCertificatesTakeOneReadAndOneWritePerName() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        let provider = try Self.provider(api)
        let records = (1...20).flatMap { index in
            ["wildcard", "apex"].map { TXTRecord(name: "_acme-challenge.c\(index).example.test", value: "\($0)-\(index)") }
        }
        try await provider.present(records, zone: "example.test")
        #expect(Set(try lab.txtValues("_acme-challenge.c7.example.test", at: lab.primary)) == ["wildcard-7", "apex-7"])
        try await provider.cleanup(records, zone: "example.test")
        #expect(try lab.txtValues("_acme-challenge.c7.example.test", at: lab.primary).isEmpty)
        let requests = try api.requests()
        #expect(requests["GET \(Self.setPath)"] == 40 && requests["PUT \(Self.setPath)"] == 20 && requests["DELETE \(Self.setPath)"] == 20,
                "\(requests)")
        #expect(requests["POST /{tenant}/oauth2/v2.0/token"] == 1, "\(requests)")
        #expect(requests["GET /subscriptions/{sub}/providers/Microsoft.Network/dnszones"] == 1, "\(requests)")
        #expect(requests.values.reduce(0, +) == 82, "\(requests)")
    }

    /// Three writers (other processes, to Azure) adding at one name at once: a PUT whose
    /// If-Match / If-None-Match no longer holds is refused (412), and each re-reads and tries
    /// again, so every value arrives and none is overwritten.
    @Test func concurrentWritersAtOneNameAllLand() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        let providers = try (1...3).map { try Self.provider(api, name: "writer\($0)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, provider) in providers.enumerated() {
                group.addTask { try await provider.present([TXTRecord(name: Self.name, value: "writer-\(index)")], zone: "example.test") }
            }
            try await group.waitForAll()
        }
        #expect(Set(try lab.txtValues(Self.name, at: lab.primary)) == ["writer-0", "writer-1", "writer-2"])
    }

    @Test func aWrongSecretIsOneSentenceWithoutTheSecret() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        let wrong = "\(lab.directory)/wrong-secret"
        try "not-the-secret\n".write(toFile: wrong, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: wrong)
        let provider = try Self.provider(api, ["client_secret_file": .string(wrong)])
        let error = await #expect(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: Self.name, value: "v1")], zone: "example.test")
        }
        let message = error?.message ?? ""
        // Nothing was written, so nothing waits in the journal for a cleanup.
        #expect(error?.wroteNothing == true)
        #expect(message.hasPrefix("provider 'az' (azure) could not look up zone example.test: Microsoft Entra ID's token endpoint (127.0.0.1:\(api.tokenPort)) refused to give a token: invalid_client: AADSTS7000215: Invalid client secret provided."), "\(message)")
        #expect(message.hasSuffix(", HTTP 401"), "\(message)")
        #expect(!message.contains("not-the-secret"))
        #expect(try lab.txtValues(Self.name, at: lab.primary).isEmpty)
    }

    @Test func aZoneTheSubscriptionLacksIsNamed() async throws {
        let lab = try await TestLab.start(.init(zones: ["example.test", "other.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI(zones: ["example.test"])
        let provider = try Self.provider(api, zones: ["example.test", "other.test"], ["resource_group": .string(api.resourceGroup)])
        let error = await #expect(throws: ProviderError.self) {
            try await provider.present([TXTRecord(name: "_acme-challenge.other.test", value: "v1")], zone: "other.test")
        }
        #expect(error?.wroteNothing == true)
        #expect(error?.message == "provider 'az' (azure): Azure DNS has no zone other.test in resource group dns01-lab of subscription \(api.subscriptionID) that these credentials can see.")
    }

    /// The zone list follows nextLink, and only to the configured Resource Manager.
    @Test func theZoneListIsFollowedPageByPage() async throws {
        let lab = try await TestLab.start(.init(zones: ["a.test", "b.test", "example.test"], startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI(pageSize: 1)
        try await Self.provider(api).present([TXTRecord(name: Self.name, value: "paged")], zone: "example.test")
        #expect(try lab.txtValues(Self.name, at: lab.primary) == ["paged"])
        #expect(try api.requests()["GET /subscriptions/{sub}/providers/Microsoft.Network/dnszones"] == 3)
    }

    /// Hardening "Trust, round two" item 4: the vendor's error message is untrusted text.
    @Test func aHostileErrorMessageIsStrippedAndClipped() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        // A forged journald line, an ANSI escape and 200 KB.
        try api.fail(20, message: "bad request\n<0>dns01: forged line\u{1B}[31m " + String(repeating: "A", count: 200_000))
        let error = await #expect(throws: ProviderError.self) {
            try await Self.provider(api).present([TXTRecord(name: Self.name, value: "v1")], zone: "example.test")
        }
        let message = error?.message ?? ""
        #expect(!message.contains("\n") && !message.contains("\u{1B}") && message.utf8.count < 1_000, "\(message.prefix(2000))")
        #expect(message.contains("Azure DNS answered bad request?<0>dns01: forged line?[31m AAAA"), "\(message.prefix(2000))")
    }

    /// 429 with Retry-After: retried after it and then written; a storm past the budget ends in
    /// one sentence naming the 429, the zone and the record.
    @Test func rateLimitsAreWaitedOutThenReported() async throws {
        let lab = try await TestLab.start(.init(startPebble: false))
        defer { lab.stop() }
        let api = try await lab.startAzureAPI()
        let provider = try Self.provider(api, ["timeout": .string("8s")])
        try api.throttle(2)
        try await provider.present([TXTRecord(name: Self.name, value: "after-429")], zone: "example.test")
        #expect(try lab.txtValues(Self.name, at: lab.primary) == ["after-429"])
        #expect(try api.requests()["POST /{tenant}/oauth2/v2.0/token"] == 3)

        try api.throttle(1000)
        let error = await #expect(throws: ProviderError.self) {
            try await provider.cleanup([TXTRecord(name: Self.name, value: "after-429")], zone: "example.test")
        }
        let message = error?.message ?? ""
        #expect(message == "provider 'az' (azure) could not remove 1 TXT value(s) in zone example.test (\(Self.name)): Azure DNS answered The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:01:00. (TooManyRequests), HTTP 429; it kept asking to slow down (429) past the retries", "\(message)")
        try api.throttle(0)
    }
}

@Suite("Azure DNS provider: config") struct AzureProviderConfigTests {
    static let base: [String: SettingValue] = [
        "subscription_id": .string("0b1f6471-1bf0-4dda-aec3-cb9272f09590"), "tenant_id": .string("contoso.onmicrosoft.com"),
        "client_id": .string("8a2c5e1b-3f4d-4e6a-9b7c-0d1e2f3a4b5c"), "client_secret_env": .string("DNS01_TEST_AZURE_SECRET"),
    ]

    @Test(arguments: [
        (["client_secret": SettingValue.string("s3cret")], "the client secret never goes in the config"),
        (["subscription_id": .string("my-sub")], "set subscription_id to the subscription's ID (a GUID like 00000000-0000-0000-0000-000000000000), not 'my-sub'."),
        (["client_id": .string("app")], "client_id 'app' is not an application (client) ID (a GUID)."),
        (["client_secret_env": .string("DNS01_TEST_UNSET")], "the environment variable DNS01_TEST_UNSET (client_secret_env) is not set."),
        (["managed_identity": .bool(true)], "managed_identity uses the machine's identity; drop tenant_id and the client secret, or managed_identity."),
        (["resource_group": .string("a/b")], "resource_group 'a/b' is not a resource group name"),
        (["api_url": .string("ftp://x")], "api_url 'ftp://x' is not an http(s) URL."),
    ] as [([String: SettingValue], String)])
    func refused(_ change: [String: SettingValue], _ expected: String) throws {
        let settings = Settings(context: "[[provider]] 'az'", values: Self.base.merging(change) { $1 })
        let error = #expect(throws: ConfigError.self) {
            _ = try AzureProvider.Config(settings, environment: ["DNS01_TEST_AZURE_SECRET": "s3cret-value"])
        }
        #expect(error.map { "\($0)" }?.hasPrefix("[[provider]] 'az': ") == true)
        #expect(error.map { "\($0)" }?.contains(expected) == true, "\(error.map { "\($0)" } ?? "")")
    }

    @Test func aSecretFromTheEnvironmentIsRedacted() throws {
        let config = try AzureProvider.Config(Settings(context: "[[provider]] 'az'", values: Self.base),
                                              environment: ["DNS01_TEST_AZURE_SECRET": "s3cret-value\n"])
        #expect(config.secretValues == ["s3cret-value"])
    }
}
