@testable import ACME
import Crypto
import Foundation
import SwiftASN1
import Testing
import X509

/// Item 1 of the hardening issue: a chain is checked before anything is stored. The chains
/// here are made with swift-certificates: a root, an intermediate, and leaves for the ordered
/// key and names or for others.
@Suite struct ChainValidationTests {
    struct Authority {
        var key: P256.Signing.PrivateKey
        var certificate: Certificate
    }

    static let url = "https://ca.test/cert/1"
    static let ordered = ["example.test", "*.example.test"]

    /// A root, two intermediates under it, and the key dns01 ordered for.
    struct PKI {
        let now = Date()
        let root: Authority
        let intermediate: Authority
        let otherIntermediate: Authority
        let orderedKey = P256.Signing.PrivateKey()

        init() throws {
            root = try Self.authority("Test Root", signedBy: nil, now: now)
            intermediate = try Self.authority("Test Intermediate", signedBy: root, now: now)
            otherIntermediate = try Self.authority("Other Intermediate", signedBy: root, now: now)
        }

        static func authority(_ name: String, signedBy issuer: Authority?, now: Date) throws -> Authority {
            let key = P256.Signing.PrivateKey()
            let subject = try DistinguishedName { CommonName(name) }
            let certificate = try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
                notValidBefore: now - 3600, notValidAfter: now + 86400 * 365,
                issuer: issuer?.certificate.subject ?? subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions { Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil)) },
                issuerPrivateKey: .init(issuer?.key ?? key))
            return Authority(key: key, certificate: certificate)
        }

        func leaf(names: [String], key: P256.Signing.PublicKey? = nil, issuer: Authority? = nil,
                  expired: Bool = false) throws -> Certificate {
            let issuer = issuer ?? intermediate
            return try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(key ?? orderedKey.publicKey),
                notValidBefore: now - 86400 * 100, notValidAfter: expired ? now - 10 : now + 86400 * 90,
                issuer: issuer.certificate.subject, subject: try DistinguishedName { CommonName(names.first ?? "none") },
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions { SubjectAlternativeNames(names.map { GeneralName.dnsName($0) }) },
                issuerPrivateKey: .init(issuer.key))
        }

        func pem(_ certificates: [Certificate]) throws -> String {
            try certificates.map { try $0.serializeAsPEM().pemString + "\n" }.joined()
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var testDescription: String
        /// The chain's PEM.
        var pem: @Sendable (PKI) throws -> String
        /// nil: accepted; else a fragment of the one-sentence error.
        var fault: String?
    }

    static let cases: [Case] = [
        Case(testDescription: "leaf and intermediate", pem: { pki in
            try pki.pem([pki.leaf(names: ordered), pki.intermediate.certificate])
        }, fault: nil),
        Case(testDescription: "names in another case and order", pem: { pki in
            try pki.pem([pki.leaf(names: ["*.EXAMPLE.test", "Example.Test"]), pki.intermediate.certificate, pki.root.certificate])
        }, fault: nil),
        Case(testDescription: "CRLF line ends and text around the blocks", pem: { pki in
            "issued by a test\r\n" + (try pki.pem([pki.leaf(names: ordered), pki.intermediate.certificate])).replacingOccurrences(of: "\n", with: "\r\n")
        }, fault: nil),
        Case(testDescription: "empty body", pem: { _ in "" }, fault: "no PEM certificate"),
        Case(testDescription: "HTML instead of PEM", pem: { _ in "<html><body>502 Bad Gateway</body></html>" }, fault: "no PEM certificate"),
        Case(testDescription: "garbage in a CERTIFICATE block", pem: { pki in
            "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        }, fault: "Certificate 1 of the chain from \(url) is not a parsable X.509 certificate"),
        Case(testDescription: "a good leaf then a truncated intermediate", pem: { pki in
            let good = try pki.pem([pki.leaf(names: ordered)])
            let broken = try pki.pem([pki.intermediate.certificate]).split(separator: "\n").enumerated()
                .filter { $0.offset != 3 }.map(\.element).joined(separator: "\n") + "\n"
            return good + broken
        }, fault: "Certificate 2 of the chain"),
        Case(testDescription: "a private key block", pem: { pki in
            try pki.pem([pki.leaf(names: ordered)]) + P256.Signing.PrivateKey().pemRepresentation + "\n"
        }, fault: "Certificate 2 of the chain"),
        Case(testDescription: "leaf for another key", pem: { pki in
            try pki.pem([pki.leaf(names: ordered, key: P256.Signing.PrivateKey().publicKey), pki.intermediate.certificate])
        }, fault: "another public key"),
        Case(testDescription: "leaf for other names", pem: { pki in
            try pki.pem([pki.leaf(names: ["evil.test"]), pki.intermediate.certificate])
        }, fault: "is for evil.test, not for the names ordered (example.test, *.example.test)"),
        Case(testDescription: "leaf lacking an ordered name", pem: { pki in
            try pki.pem([pki.leaf(names: ["example.test"]), pki.intermediate.certificate])
        }, fault: "not for the names ordered"),
        Case(testDescription: "leaf with an extra name", pem: { pki in
            try pki.pem([pki.leaf(names: ordered + ["extra.example.test"]), pki.intermediate.certificate])
        }, fault: "not for the names ordered"),
        Case(testDescription: "leaf without names", pem: { pki in
            try pki.pem([pki.leaf(names: []), pki.intermediate.certificate])
        }, fault: "is for no DNS name"),
        Case(testDescription: "expired leaf", pem: { pki in
            try pki.pem([pki.leaf(names: ordered, expired: true), pki.intermediate.certificate])
        }, fault: "expired on"),
        Case(testDescription: "leaf not signed by the intermediate that follows", pem: { pki in
            try pki.pem([pki.leaf(names: ordered), pki.otherIntermediate.certificate])
        }, fault: "Certificate 1 of the chain from \(url) (CN=example.test) is not signed by certificate 2 (CN=Other Intermediate)"),
        Case(testDescription: "chain in the wrong order", pem: { pki in
            try pki.pem([pki.leaf(names: ordered), pki.root.certificate, pki.intermediate.certificate])
        }, fault: "Certificate 1 of the chain"),
        Case(testDescription: "seventeen certificates", pem: { pki in
            try pki.pem([pki.leaf(names: ordered)] + Array(repeating: pki.intermediate.certificate, count: 16))
        }, fault: "at most 16"),
    ]

    @Test(arguments: cases)
    func validate(_ scenario: Case) throws {
        let pki = try PKI()
        let chain = CertificateChain(pem: try scenario.pem(pki))
        let key = Certificate.PublicKey(pki.orderedKey.publicKey)
        if let fault = scenario.fault {
            let error = try #require(throws: ACMEError.self) {
                try chain.validate(publicKey: key, names: Self.ordered, url: Self.url, now: pki.now)
            }
            #expect(error.code == .invalidCertificate)
            #expect(error.message.contains(fault), "\(error.message)")
            #expect(!error.message.contains("\n") && error.message.hasSuffix("."), "one sentence: \(error.message)")
            #expect(!error.message.contains("PRIVATE KEY"))
        } else {
            let certificates = try chain.validate(publicKey: key, names: Self.ordered, url: Self.url, now: pki.now)
            #expect(certificates.first?.publicKey == key)
        }
    }

    /// "Trust, round two", item 6: the check every path that makes a version live goes through,
    /// for origins other than the CA. A self-signed certificate (dns01's placeholder) is signed
    /// in order when it is alone and verifies with its own key; without a key to match (a
    /// fleet version of the user's own CSR) the rest is still checked.
    @Test func selfSignedAndStoredChains() throws {
        let pki = try PKI()
        let origin = CertificateChain.Origin(phrase: "of web version 3 in PostgreSQL at db:5432", key: "the private key stored with it",
                                             names: "the configured names", empty: "The chain of web version 3 holds no PEM certificate.")
        let subject = try DistinguishedName { OrganizationName("dns01 placeholder"); CommonName("example.test") }
        func selfIssued(signedBy signer: P256.Signing.PrivateKey) throws -> Certificate {
            try Certificate(version: .v3, serialNumber: .init(), publicKey: .init(pki.orderedKey.publicKey),
                            notValidBefore: pki.now - 60, notValidAfter: pki.now + 86400 * 7, issuer: subject, subject: subject,
                            signatureAlgorithm: .ecdsaWithSHA256,
                            extensions: try Certificate.Extensions { SubjectAlternativeNames(Self.ordered.map { GeneralName.dnsName($0) }) },
                            issuerPrivateKey: .init(signer))
        }
        let key = Certificate.PublicKey(pki.orderedKey.publicKey)
        let placeholder = CertificateChain(pem: try pki.pem([selfIssued(signedBy: pki.orderedKey)]))
        #expect(try placeholder.validate(publicKey: key, names: Self.ordered, origin: origin, now: pki.now).count == 1)
        let forged = CertificateChain(pem: try pki.pem([selfIssued(signedBy: P256.Signing.PrivateKey())]))
        let error = try #require(throws: ACMEError.self) {
            try forged.validate(publicKey: key, names: Self.ordered, origin: origin, now: pki.now)
        }
        #expect(error.message == "The self-signed certificate of web version 3 in PostgreSQL at db:5432 (CN=example.test) is not signed by its own key.")

        // No key to match: names, expiry and order are checked all the same.
        let good = CertificateChain(pem: try pki.pem([pki.leaf(names: Self.ordered), pki.intermediate.certificate]))
        #expect(try good.validate(publicKey: nil, names: Self.ordered, origin: origin, now: pki.now).count == 2)
        let foreign = CertificateChain(pem: try pki.pem([pki.leaf(names: ["other.test"]), pki.intermediate.certificate]))
        let names = try #require(throws: ACMEError.self) { try foreign.validate(publicKey: nil, names: Self.ordered, origin: origin, now: pki.now) }
        #expect(names.message == "The certificate of web version 3 in PostgreSQL at db:5432 is for other.test, not for the configured names (example.test, *.example.test).")
        let otherKey = try #require(throws: ACMEError.self) {
            try good.validate(publicKey: .init(P256.Signing.PrivateKey().publicKey), names: Self.ordered, origin: origin, now: pki.now)
        }
        #expect(otherKey.message == "The certificate of web version 3 in PostgreSQL at db:5432 is for another public key than the private key stored with it.")
        let empty = try #require(throws: ACMEError.self) { try CertificateChain(pem: "").validate(publicKey: nil, names: [], origin: origin) }
        #expect(empty.message == origin.empty)
    }

    /// Hostile names never break the sentence across lines.
    @Test func namesInTheMessageArePrintable() throws {
        let pki = try PKI()
        let chain = CertificateChain(pem: try pki.pem([pki.leaf(names: ["evil.test\nSecond line"]), pki.intermediate.certificate]))
        let error = try #require(throws: ACMEError.self) {
            try chain.validate(publicKey: .init(pki.orderedKey.publicKey), names: Self.ordered, url: Self.url, now: pki.now)
        }
        #expect(error.message.contains("evil.test?Second line"), "\(error.message)")
    }
}
