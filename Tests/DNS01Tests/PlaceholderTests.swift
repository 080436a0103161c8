@testable import DNS01
import Foundation
import Synchronization
import Testing
import X509

/// `placeholder = true` without a CA: what the self-signed certificate holds (read back by
/// openssl), that it is never taken for a real one, and that the key goes on into the CA's
/// certificate.
@Suite("placeholder certificates")
struct PlaceholderTests {
    static func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "dns01-placeholder-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    static func openssl(_ arguments: [String]) throws -> String {
        let result = try runProcess("/usr/bin/openssl", arguments)
        #expect(result.status == 0, "openssl \(arguments.joined(separator: " ")): \(result.stderr)")
        return result.stdout
    }

    /// The public key of a certificate and of a private key, as openssl prints them.
    static func publicKeys(certificate: String, key: String) throws -> (String, String) {
        (try openssl(["x509", "-noout", "-pubkey", "-in", certificate]), try openssl(["pkey", "-pubout", "-in", key]))
    }

    /// (key type, what openssl calls the key)
    @Test(arguments: [(KeyType.ec256, "prime256v1"), (.ec384, "secp384r1"), (.rsa2048, "2048 bit")])
    func theCertificateIsSelfSignedForExactlyTheNamesAndMarked(_ keyType: KeyType, _ opensslName: String) async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let now = Date()
        let names = ["*.example.test", "example.test", "www.example.test"]
        let notAfter = try #require(try await store.writePlaceholderIfMissing(name: "example.test", domains: names, keyType: keyType, now: now))
        #expect(notAfter == now.addingTimeInterval(7 * 86400))
        let live = store.liveDirectory("example.test")
        #expect(try subjectAlternativeNames(ofCertificateAt: "\(live)/cert.pem") == names.sorted())
        let text = try Self.openssl(["x509", "-noout", "-subject", "-issuer", "-text", "-in", "\(live)/cert.pem"])
        #expect(text.contains("subject=O = dns01 placeholder, CN = *.example.test"), "\(text)")
        #expect(text.contains("issuer=O = dns01 placeholder, CN = *.example.test"), "\(text)")
        #expect(text.contains(opensslName), "\(text)")
        #expect(text.contains("CA:FALSE") && text.contains("TLS Web Server Authentication"), "\(text)")
        // Signed with its own key: openssl checks the signature against the certificate's key.
        let verified = try runProcess("/usr/bin/openssl", ["verify", "-check_ss_sig", "-partial_chain", "-CAfile", "\(live)/cert.pem", "\(live)/cert.pem"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        let (certificateKey, privateKey) = try Self.publicKeys(certificate: "\(live)/cert.pem", key: "\(live)/privkey.pem")
        #expect(certificateKey == privateKey)
        #expect(try FileManager.default.attributesOfItem(atPath: "\(live)/privkey.pem")[.posixPermissions] as? Int == 0o600)
        #expect(try String(contentsOfFile: "\(live)/fullchain.pem", encoding: .utf8) == String(contentsOfFile: "\(live)/cert.pem", encoding: .utf8))
        let certificate = try #require(try store.currentCertificate("example.test"))
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        #expect(CertificateStore.isPlaceholder(certificate))
        // Written once: with a certificate in live/, nothing more.
        #expect(try await store.writePlaceholderIfMissing(name: "example.test", domains: names, keyType: keyType) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(directory)/archive/example.test") == ["0001"])
    }

    /// A self-signed certificate of anyone else (no O=dns01 placeholder) is a real certificate.
    @Test func onlyDNS01sPlaceholderIsOne() async throws {
        let (store, directory) = try await RenewalPlanTests.store(days: 45)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(!CertificateStore.isPlaceholder(try #require(try store.currentCertificate("a"))))
        #expect(RenewalPlan.decide([RenewalPlanTests.spec()], store: store, force: false, now: Date()).first?.reason == nil)
    }

    /// Due at once, even with --force, with no ARI certificate ID (no lookup, no `replaces`).
    @Test(arguments: [false, true])
    func aPlaceholderIsDueAtOnce(_ force: Bool) async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        _ = try await store.writePlaceholderIfMissing(name: "a", domains: ["a.test"], keyType: .ec256)
        let decision = try #require(RenewalPlan.decide([RenewalPlanTests.spec()], store: store, force: force, now: Date()).first)
        #expect(decision.reason == .placeholder)
        #expect(decision.certificateID == nil)
        #expect(decision.notAfter != nil)
    }

    static func request(_ keyType: KeyType = .ec256) throws -> IssueRequest {
        try IssueRequest(certName: "a", domains: ["a.test", "*.a.test"], keyType: keyType, provider: "lab",
                         alsoProviders: ["other"], deployHook: "true", profile: "tlsserver", replaces: "some-id")
    }

    /// `prepare` writes the placeholder (saying so) and turns the request into one with a CSR of
    /// the placeholder's key, keeping everything else; without `placeholder` nothing changes.
    @Test func prepareWritesThePlaceholderAndReusesItsKey() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        let said = Mutex<[String]>([])
        let events: EventSink = { event in if case .step(let text) = event { said.withLock { $0.append(text) } } }

        let untouched = try await store.prepare(try Self.request(), placeholder: false, events: events)
        #expect(untouched.csr == nil && !FileManager.default.fileExists(atPath: store.liveDirectory("a")))

        let prepared = try await store.prepare(try Self.request(), placeholder: true, events: events)
        #expect(said.withLock { $0 }.count == 1)
        #expect(said.withLock { $0 }.first?.hasPrefix("a: no certificate yet; wrote a self-signed placeholder for a.test, *.a.test to \(directory)/live/a (valid until ") == true,
                "\(said.withLock { $0 })")
        let csr = try #require(prepared.csr)
        let live = try #require(try store.currentCertificate("a"))
        #expect(try CertificateSigningRequest(derEncoded: csr.der).publicKey == live.publicKey)
        #expect(Set(prepared.domains) == ["a.test", "*.a.test"] && prepared.certName == "a")
        #expect(prepared.provider == "lab" && prepared.alsoProviders == ["other"] && prepared.deployHook == "true")
        #expect(prepared.profile == "tlsserver" && prepared.keyType == .ec256)
        #expect(prepared.replaces == nil)

        // A later run finds the placeholder (nothing new written) and reuses the same key.
        let again = try await store.prepare(try Self.request(), placeholder: true, events: events)
        #expect(said.withLock { $0 }.count == 1)
        #expect(try again.csr.map { try CertificateSigningRequest(derEncoded: $0.der).publicKey } == live.publicKey)
        // After a key_type change the old key is not reused; and a --csr request is left alone.
        #expect(try await store.prepare(try Self.request(.ec384), placeholder: true, events: events).csr == nil)
        let own = try await store.prepare(again, placeholder: true, events: events)
        #expect(own.csr?.der == again.csr?.der)
    }

    /// A chain that comes without a key (from a CSR) gets the stored key that is its
    /// certificate's: live/ first, then archive/; none when no stored key matches.
    @Test func aVersionWithoutAKeyCarriesTheMatchingStoredKey() async throws {
        let directory = try Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = CertificateStore(stateDir: directory)
        _ = try await store.writePlaceholderIfMissing(name: "a", domains: ["a.test"], keyType: .ec256)
        let placeholderKey = try String(contentsOfFile: "\(directory)/live/a/privkey.pem", encoding: .utf8)
        // The "CA's" certificate for the placeholder's key (openssl, not dns01, makes it).
        let sameKey = try Self.openssl(["req", "-x509", "-key", "\(directory)/live/a/privkey.pem", "-subj", "/CN=a.test",
                                        "-addext", "subjectAltName=DNS:a.test", "-days", "30"])
        try await store.save(name: "a", privateKeyPEM: nil, chainPEM: sameKey)
        #expect(try String(contentsOfFile: "\(directory)/live/a/privkey.pem", encoding: .utf8) == placeholderKey)
        #expect(try String(contentsOfFile: "\(directory)/archive/a/0002/privkey.pem", encoding: .utf8) == placeholderKey)

        // Another key goes live (0003); a chain for the first key still finds it, in archive/.
        let other = try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                      "-keyout", "\(directory)/other.pem", "-subj", "/CN=a.test", "-days", "30"])
        try await store.save(name: "a", privateKeyPEM: try String(contentsOfFile: "\(directory)/other.pem", encoding: .utf8), chainPEM: other)
        try await store.save(name: "a", privateKeyPEM: nil, chainPEM: sameKey)
        #expect(try String(contentsOfFile: "\(directory)/live/a/privkey.pem", encoding: .utf8) == placeholderKey)

        // A certificate for a key dns01 never stored: no privkey.pem, as with any --csr.
        let foreign = try Self.openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                        "-keyout", "/dev/null", "-subj", "/CN=a.test", "-days", "30"])
        try await store.save(name: "a", privateKeyPEM: nil, chainPEM: foreign)
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/live/a/privkey.pem"))
    }

    @Test func placeholderIsOffUnlessSetAndMustBeABoolean() throws {
        let toml = ConfigFixture.text("""
            [[certificate]]
            domains = ["a.test"]
            [[certificate]]
            domains = ["b.test"]
            placeholder = true
            """)
        #expect(try Configuration.parse(toml, path: "test.toml").certificates.map(\.placeholder) == [false, true])
        #expect { try Configuration.parse(toml.replacingOccurrences(of: "placeholder = true", with: "placeholder = \"yes\""), path: "test.toml") }
            throws: { "\($0)".contains("[[certificate]] #2: key 'placeholder' must be") }
    }
}
