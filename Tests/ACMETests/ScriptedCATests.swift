@testable import ACME
import Clocks
import Crypto
import Foundation
import ScriptedACME
import ScriptedHTTP
import Testing
import X509

/// The scripted CA answers as RFC 8555 says a CA does, for the parts unit tests lean on.
@Suite struct ScriptedCATests {
    static func client(_ options: ScriptedCA.Options = .init()) async throws -> (ACMEClient, ScriptedCA, ManualClock) {
        try await ACMEStateMachineTests.client(options)
    }

    /// A wildcard's authorization names the base domain and offers only DNS challenges.
    @Test func challengeTypesAndWildcards() async throws {
        let (client, _, _) = try await Self.client(.init(challengeTypes: ["http-01", "dns-01", "dns-account-01"]))
        let order = try await client.newOrder(identifiers: [.dns("a.test"), .dns("*.a.test")])
        let apex = try await client.authorization(at: order.authorizations[0])
        let wildcard = try await client.authorization(at: order.authorizations[1])
        #expect(apex.challenges.map(\.type) == ["http-01", "dns-01", "dns-account-01"])
        #expect(apex.wildcard == nil && apex.identifier == .dns("a.test"))
        #expect(wildcard.challenges.map(\.type) == ["dns-01", "dns-account-01"])
        #expect(wildcard.wildcard == true && wildcard.identifier == .dns("a.test"))
        #expect(Set(apex.challenges.compactMap(\.token)).count == 3)
    }

    /// Finalize before the order is ready, and a CSR for other names, are refused as a CA does.
    @Test func finalizeIsRefusedWhenNotReadyOrForOtherNames() async throws {
        let (client, ca, clock) = try await Self.client(.init(pendingPolls: 0))
        let order = try await client.newOrder(identifiers: [.dns("a.test")])
        let key = P256.Signing.PrivateKey()
        let early = try await #require(throws: ACMEError.self) {
            try await client.finalize(order, csrDER: try CSRBuilder.make(names: ["a.test"], privateKey: .init(key)))
        }
        #expect(early.problem?.type == .orderNotReady && early.problem?.status == 403)
        #expect(early.message.hasPrefix("The CA at ca.test refused to finalize order \(ca.orderURL(1)): urn:ietf:params:acme:error:orderNotReady"))
        let authorization = try await client.authorization(at: order.authorizations[0])
        _ = try await client.respond(to: try #require(authorization.challenges.first))
        _ = try await client.waitForAuthorization(at: order.authorizations[0], deadline: clock.now + .seconds(10))
        let other = try await #require(throws: ACMEError.self) {
            try await client.finalize(order, csrDER: try CSRBuilder.make(names: ["b.test"], privateKey: .init(key)))
        }
        #expect(other.problem?.type == .badCSR)
        #expect(ca.issued.isEmpty)
    }

    /// Issued leaves carry the authority key identifier, so their ARI certificate ID (RFC 9773
    /// §4.1) is known and the scripted renewalInfo answers for it.
    @Test func issuedCertificatesHaveARIIdentifiers() async throws {
        let start = Date(timeIntervalSince1970: 1_900_000_000)
        let (client, ca, clock) = try await Self.client(.init(pendingPolls: 0, processingPolls: 0,
                                                             renewalWindow: (start, start.addingTimeInterval(86_400))))
        let order = try await client.newOrder(identifiers: [.dns("a.test")])
        let authorization = try await client.authorization(at: order.authorizations[0])
        _ = try await client.respond(to: try #require(authorization.challenges.first))
        _ = try await client.waitForAuthorization(at: order.authorizations[0], deadline: clock.now + .seconds(10))
        let key = P256.Signing.PrivateKey()
        let finalized = try await client.finalize(order, csrDER: try CSRBuilder.make(names: ["a.test"], privateKey: .init(key)))
        #expect(finalized.status == .valid)
        let chain = try await client.downloadCertificate(at: try #require(finalized.certificate), preferredChain: "Scripted Root (ca.test)",
                                                         publicKey: .init(key.publicKey), names: ["a.test"])
        #expect(chain.hasIssuer(commonName: "Scripted Root (ca.test)"))
        let leaf = try #require(chain.certificates.first)
        let id = try #require(RenewalInfo.certificateID(of: leaf))
        let info = try #require(try await client.renewalInfo(certificateID: id))
        #expect(info.suggestedWindow.start == start)
        #expect(ca.transport.requests("GET", ca.renewalInfoURL + "/" + id).count == 1)
    }

    /// A deactivated account can do nothing more; a key without an account is told so.
    @Test func accountLifecycle() async throws {
        let (client, ca, _) = try await Self.client(.init(externalAccountRequired: false))
        #expect(try await client.updateAccount(contact: ["mailto:new@a.test"]).contact == ["mailto:new@a.test"])
        #expect(try await client.deactivateAccount().status == "deactivated")
        let error = try await #require(throws: ACMEError.self) { try await client.newOrder(identifiers: [.dns("a.test")]) }
        #expect(error.problem?.type == .unauthorized)
        let stranger = ACMEClient(directoryURL: ca.directoryURL, transport: try ScriptedCA().transport, accountKey: try AccountKey.generate())
        let lookup = try await #require(throws: ACMEError.self) {
            try await stranger.newAccount(contact: [], termsOfServiceAgreed: true, onlyReturnExisting: true)
        }
        #expect(lookup.problem?.type == .accountDoesNotExist)
    }
}
