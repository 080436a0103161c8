import DNS
import Foundation
import HTTP
@testable import Providers
import ScriptedHTTP
import Testing

/// PowerDNS answers 429 or 503 from a proxy or load balancer in front of it (pdns_server itself
/// sends neither, so the real one cannot show it): the provider waits out Retry-After and sends
/// the same request again; the key travels in X-API-Key only.
@Suite struct PowerDNSRetryTests {
    @Test func busyAnswersAreRetriedAfterRetryAfter() async throws {
        let transport = ScriptedTransport(issuesNonces: false)
        let url = "http://pdns.test:8081/api/v1/servers/localhost/zones/example.test."
        let zone = #"{"name": "example.test.", "kind": "Native", "soa_edit_api": "DEFAULT", "rrsets": [{"name": "_acme-challenge.example.test.", "type": "TXT", "ttl": 300, "records": [{"content": "\"unrelated\"", "disabled": false}]}]}"#
        transport.on("GET", url, .json(zone))
        transport.once("GET", url, HTTPResponse.empty(status: 503).with("Retry-After", "0"))
        transport.on("PATCH", url, .empty(status: 204))
        transport.once("PATCH", url, HTTPResponse.empty(status: 429).with("Retry-After", "0"))
        let config = try PowerDNSProvider.Config(providerSettings(["api_url": "http://pdns.test:8081", "api_key_env": "K"]),
                                                 environment: ["K": "the-secret-key"])
        let provider = PowerDNSProvider(name: "pdns", zones: ["example.test"], config: config, transport: transport)
        try await provider.present([TXTRecord(name: "_acme-challenge.example.test", value: "new-value")], zone: "example.test")
        #expect(transport.requests.map(\.description) == ["GET \(url)", "GET \(url)", "PATCH \(url)", "PATCH \(url)"])
        let patch = try #require(transport.requests.last)
        #expect(patch.header("X-API-Key") == "the-secret-key")
        #expect(!patch.url.contains("the-secret-key"))
        let body = String(decoding: patch.body, as: UTF8.self)
        #expect(body.contains(#""changetype":"REPLACE""#) && body.contains(#"\"unrelated\""#) && body.contains(#"\"new-value\""#)
                && body.contains(#""ttl":300"#), "\(body)")
    }
}
