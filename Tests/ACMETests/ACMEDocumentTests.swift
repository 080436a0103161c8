@testable import ACME
import Crypto
import Foundation
import HTTP
import SwiftASN1
import Testing
import X509

@Suite struct ACMEDocumentTests {
    /// Expected values computed independently:
    /// printf %s "$token.$thumbprint" | openssl dgst -sha256 -binary | basenc --base64url | tr -d =
    @Test(arguments: [
        ("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", "ZTRx1Ckl1-tM05o5zaizTTA0yUy5AGereMgSNWC6Ll8"),
        ("DGyRejmCefe7v4NfDGDKfA", "9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI", "LErY_CSP4pbS2liuXH0HiklOVjPraZ0fkqzJ709dFUY"),
        ("token-with_odd", "chars.thumb", "EMpiIA5eto-V1bdZhPxVy8AfyM-c_L9YrHn0TET6FR8"),
    ])
    func dns01Digest(_ token: String, _ thumbprint: String, _ expected: String) {
        #expect(KeyAuthorization.string(token: token, thumbprint: thumbprint) == token + "." + thumbprint)
        #expect(KeyAuthorization.dns01Value(token: token, thumbprint: thumbprint) == expected)
    }

    /// RFC 8555 §6.7.1's example.
    @Test func problemWithSubproblems() throws {
        let json = """
        {
            "type": "urn:ietf:params:acme:error:malformed",
            "detail": "Some of the identifiers requested were rejected",
            "subproblems": [
                {
                    "type": "urn:ietf:params:acme:error:malformed",
                    "detail": "Invalid underscore in DNS name \\"_example.org\\"",
                    "identifier": { "type": "dns", "value": "_example.org" }
                },
                {
                    "type": "urn:ietf:params:acme:error:rejectedIdentifier",
                    "detail": "This CA will not issue for \\"example.net\\"",
                    "identifier": { "type": "dns", "value": "example.net" }
                }
            ]
        }
        """
        let problem = try JSONDecoder().decode(Problem.self, from: Data(json.utf8))
        #expect(problem.type == .malformed)
        #expect(problem.subproblems?.count == 2)
        #expect(problem.subproblems?[1].type == .rejectedIdentifier)
        #expect(problem.subproblems?[1].identifier == .dns("example.net"))
        let text = problem.description
        #expect(text.hasPrefix("urn:ietf:params:acme:error:malformed: Some of the identifiers requested were rejected"))
        #expect(text.contains("_example.org: urn:ietf:params:acme:error:malformed: Invalid underscore"))
        #expect(text.contains("example.net: urn:ietf:params:acme:error:rejectedIdentifier"))
    }

    @Test func problemWithoutTypeIsAboutBlank() throws {
        let problem = try JSONDecoder().decode(Problem.self, from: Data(#"{"detail":"x","status":400}"#.utf8))
        #expect(problem.type.rawValue == "about:blank")
        #expect(problem.status == 400)
    }

    @Test func retryAfter() {
        #expect(RetryAfter.parse("120") == .seconds(120))
        #expect(RetryAfter.parse(" 0 ") == .seconds(0))
        #expect(RetryAfter.parse(nil) == nil)
        #expect(RetryAfter.parse("soon") == nil)
        let now = Date(timeIntervalSince1970: 784_111_717)  // Sun, 06 Nov 1994 08:48:37 GMT
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: now) == .seconds(60))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:40:00 GMT", now: now) == .seconds(0))
    }

    @Test(arguments: [["example.test"], ["*.example.test", "example.test"], ["a.example.test", "b.example.test", "c.example.test"]])
    func csrCarriesExactlyTheNames(_ names: [String]) throws {
        let key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        let der = try CSRBuilder.make(names: names, privateKey: key)
        let csr = try CertificateSigningRequest(derEncoded: der)
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        #expect(csr.publicKey == key.publicKey)
        let request = try #require(try csr.attributes.extensionRequest)
        let sans = try #require(try request.extensions.subjectAlternativeNames)
        #expect(sans.map { "\($0)" } == names.map { "\(GeneralName.dnsName($0))" })
        #expect(csr.subject.description.contains(names[0]))
    }

    @Test func csrForALongFirstNameHasNoCommonName() throws {
        let long = String(repeating: "a", count: 60) + ".example.test"
        let der = try CSRBuilder.make(names: [long], privateKey: Certificate.PrivateKey(P256.Signing.PrivateKey()))
        let csr = try CertificateSigningRequest(derEncoded: der)
        #expect(!csr.subject.description.contains("CN="))
    }

    @Test func orderAndAuthorizationDecode() throws {
        let order = try JSONDecoder().decode(Order.self, from: Data("""
        {"status":"pending","expires":"2026-01-01T00:00:00Z","identifiers":[{"type":"dns","value":"*.example.test"}],
         "authorizations":["https://ca/authz/1"],"finalize":"https://ca/finalize/1"}
        """.utf8))
        #expect(order.status == .pending && order.authorizations == ["https://ca/authz/1"] && order.url.isEmpty)
        let authorization = try JSONDecoder().decode(Authorization.self, from: Data("""
        {"status":"invalid","identifier":{"type":"dns","value":"example.test"},"wildcard":true,
         "challenges":[{"type":"dns-01","url":"https://ca/chal/1","token":"t","status":"invalid",
           "error":{"type":"urn:ietf:params:acme:error:dns","detail":"no TXT"}}]}
        """.utf8))
        #expect(authorization.status == .invalid && authorization.wildcard == true)
        #expect(authorization.challenges[0].error?.type == .dns)
    }

    @Test func pemBlocksSplitLFAndCRLFChainsAndSkipTextBetween() {
        let lf = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"
        let expected = ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                        "-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----\n"]
        #expect(CertificateChain.pemBlocks(lf) == expected)
        #expect(CertificateChain.pemBlocks(lf.replacingOccurrences(of: "\n", with: "\r\n")) == expected)
        let messy = "issuer text\n  -----BEGIN CERTIFICATE-----  \n\tAAAA\n-----END CERTIFICATE-----\r\n\nbetween\n-----BEGIN CERTIFICATE-----\nBBBB\n-----END CERTIFICATE-----"
        #expect(CertificateChain.pemBlocks(messy) == expected)
        #expect(CertificateChain.pemBlocks("no certificate here\n").isEmpty)
    }
}
