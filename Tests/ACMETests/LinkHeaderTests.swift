@testable import ACME
import Foundation
import HTTP
import Testing

@Suite struct LinkHeaderTests {
    /// RFC 8288 §3 link-values as CAs and hostile peers write them: (field values, expected
    /// targets of rel="alternate").
    @Test(arguments: [
        (["<https://ca.test/cert/1/1>;rel=\"alternate\""], ["https://ca.test/cert/1/1"]),
        // Several link-values in one field, and several fields; other relations ignored.
        (["<https://ca.test/dir>;rel=\"index\", <https://ca.test/c/1/1>;rel=\"alternate\"", "<https://ca.test/c/1/2>; rel=alternate"],
         ["https://ca.test/c/1/1", "https://ca.test/c/1/2"]),
        // A comma inside the URL and inside a quoted parameter does not split the link-value.
        (["<https://ca.test/c/1,2>;rel=\"alternate\";title=\"a, b\", <https://ca.test/c/3>;rel=\"alternate\""],
         ["https://ca.test/c/1,2", "https://ca.test/c/3"]),
        // rel with several space-separated types, case-insensitive; quoted-pair in a parameter.
        (["<https://ca.test/c/4>; REL=\"up Alternate\"; title=\"say \\\"hi\\\"\""], ["https://ca.test/c/4"]),
        // '>' before '<' (it trapped in downloadCertificate), a bad link-value among good ones.
        (["foo>, <https://ca.test/c/5>;rel=\"alternate\""], ["https://ca.test/c/5"]),
        (["> <", "<", ">", "<>", ";rel=alternate", ","], []),
        (["<https://ca.test/bad target>;rel=\"alternate\", <https://ca.test/c/6>;rel=\"alternate\""], ["https://ca.test/c/6"]),
        (["<https://ca.test/c/7>;rel=\"alternate, <https://ca.test/c/8>;rel=\"alternate\""], []),
        (["<https://ca.test/c/9>;rel=\"alternate\" junk, <https://ca.test/c/10>;rel=alternate"], ["https://ca.test/c/10"]),
        (["<https://ca.test/c/11>;", "<https://ca.test/c/12>;rel=\"alternate\";"], ["https://ca.test/c/12"]),
        // Only the first rel counts (RFC 8288 §3.3).
        (["<https://ca.test/c/13>;rel=index;rel=alternate"], []),
    ] as [([String], [String])])
    func alternates(_ fields: [String], _ expected: [String]) {
        #expect(LinkHeader.targets(fields, relation: "alternate") == expected)
    }

    @Test func parametersAreKeptInOrder() throws {
        let links = LinkHeader.parse("<a>; rel=\"next\" ;Title = \"x;y\" ; anchor=b ; flag")
        let link = try #require(links.first)
        #expect(links.count == 1)
        #expect(link.target == "a")
        #expect(link.parameters.map(\.name) == ["rel", "title", "anchor", "flag"])
        #expect(link.parameters.map(\.value) == ["next", "x;y", "b", nil])
        #expect(link.relations == ["next"])
    }

    @Test func linkValuesAreBounded() {
        let many = Array(repeating: "<https://ca.test/x>;rel=alternate", count: 500).joined(separator: ",")
        #expect(LinkHeader.parse([many, many]).count == LinkHeader.maximumLinks)
    }

    /// The header that trapped `downloadCertificate` ('>' before '<'): the chain downloads and the
    /// alternate after it is found, relative targets resolved against the certificate URL.
    @Test func downloadCertificateSurvivesAHostileLinkHeader() async throws {
        let directory = #"{"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o"}"#
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
        let ca = AccountKeyAndARITests.ScriptedCA([
            "GET https://ca.test/dir": [HTTPResponse(status: 200, headers: [:], body: Array(directory.utf8))],
            "HEAD https://ca.test/n": [HTTPResponse(status: 200, headers: ["replay-nonce": ["n0"]], body: [])],
            "POST https://ca.test/cert/1": [HTTPResponse(status: 200, headers: [
                "replay-nonce": ["n1"],
                "link": ["x>y<;rel=\"alternate\", </cert/1/1>;rel=\"alternate\"", "<https://ca.test/cert/1,2>;rel=\"alternate\""],
            ], body: Array(pem.utf8))],
        ])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(), accountURL: "https://ca.test/acct/1")
        let chain = try await client.downloadCertificate(at: "https://ca.test/cert/1")
        #expect(chain.alternates == ["https://ca.test/cert/1/1", "https://ca.test/cert/1,2"])
    }
}
