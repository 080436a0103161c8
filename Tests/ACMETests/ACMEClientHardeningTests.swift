@testable import ACME
import Crypto
import Foundation
import HTTP
import Testing
import X509

/// What a CA sends is bounded and described in one sentence; a cancelled task sends nothing.
@Suite struct ACMEClientHardeningTests {
    typealias RecordedCA = AccountKeyAndARITests.RecordedCA

    static func client(newOrder body: String) throws -> (ACMEClient, RecordedCA) {
        let directory = #"{"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o"}"#
        let ca = RecordedCA([
            "GET https://ca.test/dir": HTTPResponse(status: 200, headers: [:], body: Array(directory.utf8)),
            "HEAD https://ca.test/n": HTTPResponse(status: 200, headers: ["replay-nonce": ["n0"]], body: []),
            "POST https://ca.test/o": HTTPResponse(status: 201, headers: ["replay-nonce": ["n1"], "location": ["https://ca.test/order/1"]],
                                                   body: Array(body.utf8)),
        ])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(),
                                accountURL: "https://ca.test/acct/1")
        return (client, ca)
    }

    @Test(arguments: [
        (#"{"status": "pending", "identifiers": [{"type": "dns", "va"#, "sent a malformed order object (it is not valid JSON)."),
        ("[]", "sent a malformed order object (it is not a JSON object)."),
        (#"{"status":"pending","identifiers":[],"authorizations":[]}"#, "(field 'finalize' is missing)."),
        (#"{"status":"pending","identifiers":[{"type":"dns"}],"authorizations":[],"finalize":"f"}"#, "(field 'identifiers.0.value' is missing)."),
        (#"{"status":5,"identifiers":[],"authorizations":[],"finalize":"f"}"#, "(field 'status' is not a String)."),
        (#"{"status":null,"identifiers":[],"authorizations":[],"finalize":"f"}"#, "(field 'status' is null)."),
        (#"{"status":"pending","identifiers":[],"authorizations":["https://ca.test/z/1","https://ca.test/z/2"],"finalize":"f"}"#,
         "sent an order for 1 identifier(s) with 2 authorizations."),
    ])
    func aBadOrderIsOneSentence(body: String, fault: String) async throws {
        let (client, _) = try Self.client(newOrder: body)
        let error = try await #require(throws: ACMEError.self) { try await client.newOrder(identifiers: [.dns("a.test")]) }
        #expect(error.message.contains(fault), "\(error.message)")
        #expect(error.message.hasPrefix("The CA at ca.test "), "\(error.message)")
        #expect(!error.message.contains("\n"), "\(error.message)")
    }

    /// SIGINT/SIGTERM cancel the command's task: from then on no signed request goes out.
    @Test func aCancelledTaskSendsNoRequest() async throws {
        let (client, ca) = try Self.client(newOrder: "{}")
        _ = try await client.directory()
        let outcome = await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await client.newOrder(identifiers: [.dns("a.test")])
        }.result
        #expect(throws: CancellationError.self) { try outcome.get() }
        #expect(!ca.requests.contains { $0.hasPrefix("POST") }, "\(ca.requests)")
    }

    /// Alternate chains fetched for `preferred_chain` pass the same check as the default one.
    @Test(arguments: [(true, nil), (false, "another public key")] as [(Bool, String?)])
    func anAlternateChainIsCheckedToo(alternateForOurKey: Bool, fault: String?) async throws {
        let pki = try ChainValidationTests.PKI()
        let names = ["a.test"]
        let main = try pki.pem([pki.leaf(names: names), pki.intermediate.certificate])
        let alternateKey = alternateForOurKey ? pki.orderedKey.publicKey : P256.Signing.PrivateKey().publicKey
        let alternate = try pki.pem([pki.leaf(names: names, key: alternateKey, issuer: pki.otherIntermediate),
                                     pki.otherIntermediate.certificate])
        let directory = #"{"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o"}"#
        let ca = RecordedCA([
            "GET https://ca.test/dir": HTTPResponse(status: 200, headers: [:], body: Array(directory.utf8)),
            "HEAD https://ca.test/n": HTTPResponse(status: 200, headers: ["replay-nonce": ["n0"]], body: []),
            "POST https://ca.test/cert/1": HTTPResponse(status: 200, headers: ["link": [#"<https://ca.test/cert/1/alt>;rel="alternate""#]],
                                                        body: Array(main.utf8)),
            "POST https://ca.test/cert/1/alt": HTTPResponse(status: 200, headers: [:], body: Array(alternate.utf8)),
        ])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(),
                                accountURL: "https://ca.test/acct/1")
        let download = {
            try await client.downloadCertificate(at: "https://ca.test/cert/1", preferredChain: "Other Intermediate",
                                                 publicKey: .init(pki.orderedKey.publicKey), names: names)
        }
        if let fault {
            let error = try await #require(throws: ACMEError.self) { try await download() }
            #expect(error.code == .invalidCertificate)
            #expect(error.message.contains("https://ca.test/cert/1/alt") && error.message.contains(fault), "\(error.message)")
        } else {
            #expect(try await download().pem == alternate)
        }
        #expect(ca.requests.contains("POST https://ca.test/cert/1/alt"))
    }
}
