@testable import ACME
import ScriptedHTTP
import Testing

/// dns-account-01 (draft-ietf-acme-dns-account-label): the account label and record name.
@Suite struct DNSAccountLabelTests {
    /// The draft's example, and two more computed independently
    /// (printf %s URL | openssl dgst -sha256 -binary | head -c 10 | base32 | tr A-Z a-z).
    @Test(arguments: [
        ("https://example.com/acme/acct/ExampleAccount", "_ujmmovf2vn55tgye"),
        ("http://localhost:4000/acme/acct/1", "_vkbgbqfhr6yv2asd"),
        ("https://acme-v02.api.letsencrypt.org/acme/acct/12345", "_lvrajhh53e27yh7f"),
    ])
    func labelFromTheAccountURL(_ url: String, _ label: String) {
        #expect(DNSAccountLabel(accountURL: url).label == label)
    }

    @Test func recordNamesAreDNS01sWithTheLabelInFront() {
        let label = DNSAccountLabel(accountURL: "https://example.com/acme/acct/ExampleAccount")
        #expect(label.challengeName(for: "example.org") == "_ujmmovf2vn55tgye._acme-challenge.example.org")
        // A wildcard is validated at its base domain, as with dns-01; case and a final dot do not matter.
        #expect(label.challengeName(for: "*.Example.ORG.") == "_ujmmovf2vn55tgye._acme-challenge.example.org")
        // The URL is hashed as given: another spelling of it is another account label.
        #expect(DNSAccountLabel(accountURL: "https://example.com/acme/acct/ExampleAccount/").label != label.label)
    }

    /// The client's label is its account URL's, once it has one.
    @Test func theClientsLabel() async throws {
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ScriptedTransport(), accountKey: try AccountKey.generate())
        await #expect(throws: ACMEError.self) { try await client.dnsAccountLabel() }
        let known = ACMEClient(directoryURL: "https://ca.test/dir", transport: ScriptedTransport(), accountKey: try AccountKey.generate(),
                               accountURL: "https://example.com/acme/acct/ExampleAccount")
        #expect(try await known.dnsAccountLabel().label == "_ujmmovf2vn55tgye")
    }

    /// RFC 4648 §10's test vectors, lowercased and without padding.
    @Test(arguments: [("", ""), ("f", "my"), ("fo", "mzxq"), ("foo", "mzxw6"), ("foob", "mzxw6yq"), ("fooba", "mzxw6ytb"), ("foobar", "mzxw6ytboi")])
    func base32MatchesRFC4648(_ input: String, _ expected: String) {
        #expect(Base32.lowercaseUnpadded(Array(input.utf8)) == expected)
    }
}
