@testable import DNS
import Testing

/// Issue 15 §8: an answer with several possible causes names them all (Knot's ACL denial comes
/// as NOTAUTH + BADKEY, PowerDNS's bad signature as REFUSED), and the wording has no doubled
/// words.
@Suite struct UpdateRefusalTests {
    @Test(arguments: [
        ("NOTAUTH", UInt16(17), "acme", ["BADKEY", "no key of that name", "ACL", "'acme'"]),
        ("NOTAUTH", UInt16(16), "acme", ["BADSIG", "secret differs"]),
        ("NOTAUTH", UInt16(18), "acme", ["BADTIME", "clocks"]),
        ("REFUSED", UInt16(0), "acme", ["REFUSED", "not allowed to update", "or its secret is wrong", "'acme'"]),
        ("REFUSED", nil, nil, ["REFUSED", "no TSIG key is configured"]),
        ("NOTAUTH", nil, "acme", ["NOTAUTH", "not authoritative", "or it did not accept TSIG key 'acme'"]),
        ("SERVFAIL", nil, "acme", ["SERVFAIL"]),
    ] as [(String, UInt16?, String?, [String])])
    func namesEveryCause(rcode: String, tsigError: UInt16?, key: String?, expected: [String]) {
        let text = UpdateRefusal.reason(rcode: rcode, tsigError: tsigError, zone: "example.test", keyName: key)
        for part in expected { #expect(text.contains(part), "\(text)") }
        #expect(text.contains("example.test"))
        #expect(!text.contains("key of key"))
        #expect(!text.contains("..") && !text.hasSuffix("."))
    }

    @Test func nestedMessagesEndInOnePeriod() async throws {
        // Two silent "resolvers": each failure sentence is nested in the finder's sentence.
        let finder = ZoneFinder(client: DNSClient(), resolvers: [try DNSServer(parsing: "127.0.0.1:9"), try DNSServer(parsing: "127.0.0.1:7")],
                                options: QueryOptions(timeout: .milliseconds(100), retries: 0))
        do {
            _ = try await finder.zone(containing: "example.test")
            Issue.record("closed ports answered")
        } catch let error as DNSError {
            #expect(!error.message.contains(".."), "\(error.message)")
            #expect(!error.message.contains(").;"), "\(error.message)")
            #expect(error.message.contains("127.0.0.1:9") && error.message.contains("127.0.0.1:7"))
        }
    }
}
