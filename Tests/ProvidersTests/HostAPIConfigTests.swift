import Providers
import Settings
import Testing

/// The native DNS host providers' `Config`s refuse bad settings with one sentence, before any
/// request (STYLE.md 7), and never echo a secret.
@Suite struct HostAPIConfigTests {
    struct Case: Sendable, CustomStringConvertible {
        var type: String
        var values: [String: SettingValue]
        var error: String
        var description: String { "\(type): \(error)" }
    }

    static let environment = ["DNS01_TEST_TOKEN": "  secret-token-value \n"]

    static func make(_ type: String, _ values: [String: SettingValue]) throws {
        let settings = Settings(context: "[[provider]] 'p'", values: values)
        switch type {
        case "digitalocean": _ = try DigitalOceanProvider.Config(settings, environment: environment)
        case "hetzner": _ = try HetznerProvider.Config(settings, environment: environment)
        case "desec": _ = try DeSECProvider.Config(settings, environment: environment)
        case "gandi": _ = try GandiProvider.Config(settings, environment: environment)
        default: _ = try OVHProvider.Config(settings, environment: environment)
        }
    }

    static let env: [String: SettingValue] = ["api_token_env": .string("DNS01_TEST_TOKEN")]
    static let ovh: [String: SettingValue] = ["application_key": .string("abc123"), "application_secret_env": .string("DNS01_TEST_TOKEN"),
                                              "consumer_key_env": .string("DNS01_TEST_TOKEN")]

    @Test(arguments: [
        Case(type: "digitalocean", values: ["api_token": .string("secret-token-value")], error: "the API token never goes in the config"),
        Case(type: "hetzner", values: [:], error: "set api_token_file (a 0600 file holding a Hetzner Cloud API token"),
        Case(type: "desec", values: ["api_token_env": .string("DNS01_UNSET_VARIABLE")], error: "DNS01_UNSET_VARIABLE (api_token_env) is not set"),
        Case(type: "gandi", values: env.merging(["api_token_file": .string("/x")]) { $1 }, error: "api_token_file and api_token_env both name the personal access token"),
        Case(type: "gandi", values: env.merging(["ttl": .integer(60)]) { $1 }, error: "ttl 60 is out of Gandi LiveDNS's range (300 to 2592000 seconds)"),
        Case(type: "digitalocean", values: env.merging(["api_url": .string("ftp://x")]) { $1 }, error: "api_url 'ftp://x' is not an http(s) URL"),
        Case(type: "hetzner", values: env.merging(["timeout": .string("0s")]) { $1 }, error: "timeout must be more than 0s"),
        Case(type: "ovh", values: ovh.merging(["endpoint": .string("ovh-moon")]) { $1 }, error: "endpoint 'ovh-moon' is neither ovh-eu, ovh-ca, ovh-us nor an http(s) URL"),
        Case(type: "ovh", values: ovh.merging(["application_key": .string("")]) { $1 }, error: "set application_key"),
        Case(type: "ovh", values: ovh.merging(["consumer_key": .string("secret-token-value")]) { $1 }, error: "the consumer key never goes in the config"),
        Case(type: "desec", values: env.merging(["zone_id": .string("1")]) { $1 }, error: "zone_id"),
    ])
    func badSettingsAreOneSentence(_ test: Case) {
        do {
            try Self.make(test.type, test.values)
            Issue.record("accepted")
        } catch {
            let text = "\(error)"
            #expect(text.contains("[[provider]] 'p'") && text.contains(test.error), "\(text)")
            #expect(!text.contains("secret-token-value"))
        }
    }

    @Test func anEnvironmentTokenIsTrimmedAndEndpointsAreNamed() throws {
        let settings = Settings(context: "[[provider]] 'p'", values: Self.env)
        #expect(try DigitalOceanProvider.Config(settings, environment: Self.environment).token == "secret-token-value")
        let ovh = try OVHProvider.Config(Settings(context: "p", values: Self.ovh.merging(["endpoint": .string("ovh-ca")]) { $1 }),
                                         environment: Self.environment)
        #expect(ovh.endpoint == "https://ca.api.ovh.com/1.0" && ovh.consumerKey == "secret-token-value")
        #expect(try OVHProvider.Config(Settings(context: "p", values: Self.ovh), environment: Self.environment).endpoint
                == "https://eu.api.ovh.com/1.0")
    }
}
