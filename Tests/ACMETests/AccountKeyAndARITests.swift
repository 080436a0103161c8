@testable import ACME
import Clocks
import Crypto
import Foundation
import HTTP
import TestLab
import Testing
import _CryptoExtras

/// Account key types, key import, external account binding, renewal information (RFC 9773)
/// and profiles: pure logic and recorded CA responses.
@Suite("account keys, EAB, ARI, profiles")
struct AccountKeyAndARITests {
    /// Checks a JWS signature against the JWK the key publishes, with swift-crypto's verifiers.
    static func verify(_ signature: [UInt8], over input: [UInt8], jwk: JWK) throws -> Bool {
        let m = jwk.members
        switch (m["kty"], m["crv"]) {
        case ("EC", "P-256"):
            let key = try P256.Signing.PublicKey(rawRepresentation: Base64URL.decode(m["x"]!)! + Base64URL.decode(m["y"]!)!)
            return key.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: input)
        case ("EC", "P-384"):
            let key = try P384.Signing.PublicKey(rawRepresentation: Base64URL.decode(m["x"]!)! + Base64URL.decode(m["y"]!)!)
            return key.isValidSignature(try P384.Signing.ECDSASignature(rawRepresentation: signature), for: input)
        case ("RSA", _):
            let key = try _RSA.Signing.PublicKey(n: Base64URL.decode(m["n"]!)!, e: Base64URL.decode(m["e"]!)!)
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: input),
                                        padding: .insecurePKCS1v1_5)
        default:
            return false
        }
    }

    @Test(arguments: [
        (AccountKeyType.ec256, "ES256", 64), (.ec384, "ES384", 96), (.rsa2048, "RS256", 256), (.rsa3072, "RS256", 384),
    ])
    func everyAccountKeyTypeSignsVerifiablyAndRoundTrips(_ type: AccountKeyType, _ algorithm: String, _ signatureLength: Int) throws {
        let key = try AccountKey.generate(type)
        #expect(key.algorithm.rawValue == algorithm)
        let input = Array("eyJhbGciOiJFUzI1NiJ9.e30".utf8)
        let signature = try key.sign(input)
        #expect(signature.count == signatureLength)
        #expect(try Self.verify(signature, over: input, jwk: key.jwk))
        var tampered = signature
        tampered[tampered.count / 2] ^= 1
        #expect(try !Self.verify(tampered, over: input, jwk: key.jwk))
        let again = try AccountKey(pemRepresentation: key.pemRepresentation)
        #expect(again.thumbprint() == key.thumbprint())
        if type.rawValue.hasPrefix("rsa") {
            // RFC 7518 §6.3.1: no leading zero octets in n; e is 65537.
            #expect(key.jwk.members["e"] == "AQAB")
            #expect(Base64URL.decode(key.jwk.members["n"]!)!.first != 0)
        }
    }

    /// Keys as openssl writes them: PKCS#1 RSA (certbot's and acme-tiny's account keys), SEC1 EC,
    /// PKCS#8 of both.
    @Test(arguments: [
        (["genrsa", "-traditional", "2048"], "RS256"),
        (["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "RS256"),
        (["ecparam", "-genkey", "-noout", "-name", "prime256v1"], "ES256"),
        (["ecparam", "-genkey", "-noout", "-name", "secp384r1"], "ES384"),
        (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"], "ES384"),
    ])
    func importsKeysMadeByOpenSSL(_ arguments: [String], _ algorithm: String) throws {
        let pem = try CapturedRun.run("/usr/bin/openssl", arguments).stdout
        #expect(try AccountKey(pemRepresentation: pem).algorithm.rawValue == algorithm)
    }

    @Test func rejectsKeysItCannotUse() throws {
        #expect(throws: ACMEError.self) { try AccountKey(pemRepresentation: "not a key") }
        // RSA 1024 parses but is refused, with the reason.
        let small = try _RSA.Signing.PrivateKey(unsafeKeySize: .init(bitCount: 1024))
        #expect { try AccountKey(pemRepresentation: small.pemRepresentation) } throws: { error in
            "\(error)".contains("1024-bit")
        }
    }

    /// RFC 7515 Appendix A.1: the HS256 example, through the same HMAC external account binding uses.
    @Test func hs256MatchesRFC7515AppendixA1() throws {
        let header = "{\"typ\":\"JWT\",\r\n \"alg\":\"HS256\"}"
        let payload = Array("{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}".utf8)
        let key = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
        let binding = try ExternalAccountBinding(keyID: "unused", encodedMACKey: key)
        let jws = JWS.flattenedValue(protectedHeader: header, payload: payload, sign: binding.mac)
        #expect(jws.signature == "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")
    }

    @Test func externalAccountBindingSignsTheAccountKeyForTheNewAccountURL() throws {
        let account = try AccountKey.generate()
        let binding = try ExternalAccountBinding(keyID: "kid-1", encodedMACKey: "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W\n")
        let jws = try binding.sign(accountJWK: account.jwk, url: "https://ca/new-acct")
        let header = try #require(JSONSerialization.jsonObject(with: Data(Base64URL.decode(jws.protected)!)) as? [String: String])
        #expect(header == ["alg": "HS256", "kid": "kid-1", "url": "https://ca/new-acct"])
        #expect(Base64URL.decode(jws.payload)! == Array(account.jwk.canonicalJSON.utf8))
        #expect(throws: ACMEError.self) { try ExternalAccountBinding(keyID: "kid-1", encodedMACKey: "not base64 !!") }
    }

    /// RFC 9773 §4.1's example: AKI keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:DE:01:C8:D4,
    /// serial 00:87:65:43:21.
    @Test func certificateIDMatchesRFC9773Example() {
        let aki: [UInt8] = [0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4]
        #expect(RenewalInfo.certificateID(authorityKeyIdentifier: aki, serialNumber: [0x00, 0x87, 0x65, 0x43, 0x21]) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
        // Without the leading zero the DER integer still needs it (high bit set).
        #expect(RenewalInfo.certificateID(authorityKeyIdentifier: aki, serialNumber: [0x87, 0x65, 0x43, 0x21]) == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    /// The moment in the window is SHA-256 of the certificate ID: FIPS 180-2's vector for "abc"
    /// starts ba7816bf8f01cfea, whose top 53 bits over 2^53 are the fraction.
    @Test func windowFractionIsTheCertificateIDsHash() {
        #expect(RenewalInfo.windowFraction(certificateID: "abc") == Double(UInt64(0xba7816bf8f01cfea) >> 11) / 9_007_199_254_740_992)
        #expect(RenewalInfo.windowFraction(certificateID: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
                == RenewalInfo.windowFraction(certificateID: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"))
        // 1,000 certificate IDs fall in each tenth of the window about equally (a fixed set: the
        // counts are the same in every run).
        var tenths = [Int](repeating: 0, count: 10)
        for serial in 0..<1000 {
            let fraction = RenewalInfo.windowFraction(certificateID: "aYhba4dGQEHhs3uEe6CuLN4ByNQ.\(serial)")
            #expect(fraction >= 0 && fraction < 1)
            tenths[min(9, Int(fraction * 10))] += 1
        }
        #expect(tenths.allSatisfy { (70...130).contains($0) }, "\(tenths)")
    }

    static let renewalInfoJSON = #"{"suggestedWindow":{"start":"2025-01-02T04:00:00Z","end":"2025-01-03T04:00:00Z"},"explanationURL":"https://acme.example.com/docs/ari"}"#

    @Test func renewalWindowSelection() throws {
        let info = try JSONDecoder().decode(RenewalInfo.self, from: Data(Self.renewalInfoJSON.utf8))
        let start = Date(timeIntervalSince1970: 1_735_790_400)  // 2025-01-02T04:00:00Z
        #expect(info.suggestedWindow.start == start)
        #expect(info.explanationURL == "https://acme.example.com/docs/ari")
        let before = start.addingTimeInterval(-86_400)
        #expect(info.renewalTime(fraction: 0, now: before) == start)
        #expect(info.renewalTime(fraction: 0.5, now: before) == start.addingTimeInterval(43_200))
        // Inside the window: never earlier than now. Past the window: now.
        let inside = start.addingTimeInterval(60_000)
        #expect(info.renewalTime(fraction: 0.1, now: inside) == inside)
        let after = start.addingTimeInterval(200_000)
        #expect(info.renewalTime(fraction: 0.9, now: after) == after)
        // A window whose end is not after its start is refused.
        let backwards = #"{"suggestedWindow":{"start":"2025-01-03T04:00:00Z","end":"2025-01-02T04:00:00Z"}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RenewalInfo.self, from: Data(backwards.utf8)) }
    }

    /// Serves recorded responses by method and URL, and keeps what was asked.
    final class RecordedCA: HTTPTransport, @unchecked Sendable {
        let responses: [String: HTTPResponse]
        private let lock = NSLock()
        private var asked: [String] = []
        init(_ responses: [String: HTTPResponse]) { self.responses = responses }
        var requests: [String] { lock.withLock { asked } }
        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            let key = "\(request.method) \(request.url)"
            lock.withLock { asked.append(key) }
            guard let response = responses[key] else { return HTTPResponse(status: 404, headers: [:], body: []) }
            return response
        }
    }

    /// A directory as Let's Encrypt serves it since 2025: renewalInfo and profiles.
    static let directoryJSON = """
        {"newNonce":"https://ca.test/acme/new-nonce","newAccount":"https://ca.test/acme/new-acct","newOrder":"https://ca.test/acme/new-order",
         "revokeCert":"https://ca.test/acme/revoke-cert","keyChange":"https://ca.test/acme/key-change",
         "renewalInfo":"https://ca.test/acme/renewal-info",
         "meta":{"termsOfService":"https://ca.test/tos","profiles":{"classic":"The same profile you're accustomed to","tlsserver":"https://ca.test/docs/tlsserver","shortlived":"https://ca.test/docs/shortlived"}}}
        """

    @Test func renewalInfoAndProfilesFromRecordedResponses() async throws {
        let id = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
        let ca = RecordedCA([
            "GET https://ca.test/dir": HTTPResponse(status: 200, headers: [:], body: Array(Self.directoryJSON.utf8)),
            "GET https://ca.test/acme/renewal-info/\(id)": HTTPResponse(status: 200, headers: ["retry-after": ["21600"]],
                                                                         body: Array(Self.renewalInfoJSON.utf8)),
        ])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(), accountURL: "https://ca.test/acct/1")
        let info = try #require(try await client.renewalInfo(certificateID: id))
        #expect(info.retryAfter == .seconds(21600))
        #expect(info.suggestedWindow.end == Date(timeIntervalSince1970: 1_735_876_800))

        // An unknown profile is refused before any order is sent, naming what the CA offers.
        await #expect { try await client.newOrder(identifiers: [.dns("a.test")], profile: "gold") } throws: { error in
            "\(error)".contains("has no profile 'gold'; it offers classic, shortlived, tlsserver")
        }
        #expect(!ca.requests.contains { $0.hasPrefix("POST") })
    }

    @Test func aDirectoryWithoutRenewalInfoMeansNoARI() async throws {
        let plain = #"{"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o"}"#
        let ca = RecordedCA(["GET https://ca.test/dir": HTTPResponse(status: 200, headers: [:], body: Array(plain.utf8))])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(), accountURL: "https://ca.test/acct/1")
        #expect(try await client.renewalInfo(certificateID: "x.y") == nil)
        await #expect { try await client.newOrder(identifiers: [.dns("a.test")], profile: "classic") } throws: { error in
            "\(error)".contains("offers no certificate profiles")
        }
    }

    /// Answers each request with the next recorded response for its method and URL.
    final class ScriptedCA: HTTPTransport, @unchecked Sendable {
        private let lock = NSLock()
        private var script: [String: [HTTPResponse]]
        private(set) var count = 0
        init(_ script: [String: [HTTPResponse]]) { self.script = script }
        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            try lock.withLock {
                count += 1
                let key = "\(request.method) \(request.url)"
                guard var queue = script[key], !queue.isEmpty else { throw ACMEError(.network, "unscripted \(key)") }
                let next = queue.removeFirst()
                script[key] = queue.isEmpty ? [next] : queue
                return next
            }
        }
    }

    static func scripted(_ newOrder: [HTTPResponse]) -> ScriptedCA {
        let directory = #"{"newNonce":"https://ca.test/n","newAccount":"https://ca.test/a","newOrder":"https://ca.test/o"}"#
        let order = #"{"status":"pending","identifiers":[{"type":"dns","value":"a.test"}],"authorizations":[],"finalize":"https://ca.test/f"}"#
        return ScriptedCA([
            "GET https://ca.test/dir": [HTTPResponse(status: 200, headers: [:], body: Array(directory.utf8))],
            "HEAD https://ca.test/n": [HTTPResponse(status: 200, headers: ["replay-nonce": ["n0"]], body: [])],
            "POST https://ca.test/o": newOrder.map { response in
                var response = response
                response.headers["replay-nonce"] = ["n1"]
                if response.status == 201 {
                    response.headers["location"] = ["https://ca.test/order/1"]
                    response.body = Array(order.utf8)
                }
                return response
            },
        ])
    }

    static let rateLimited = Array(#"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many new orders"}"#.utf8)

    @Test func busyAnswersWithShortRetryAfterAreWaitedOut() async throws {
        let ca = Self.scripted([
            HTTPResponse(status: 503, headers: ["retry-after": ["1"]], body: []),
            HTTPResponse(status: 429, headers: ["retry-after": ["1"], "content-type": ["application/problem+json"]], body: Self.rateLimited),
            HTTPResponse(status: 201, headers: [:], body: []),
        ])
        let clock = ManualClock()
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(),
                                accountURL: "https://ca.test/acct/1", clock: clock)
        let order = try await client.newOrder(identifiers: [.dns("a.test")])
        #expect(order.url == "https://ca.test/order/1")
        // Both waits on the injected clock: simulated seconds, no real sleep.
        #expect(clock.elapsed == .seconds(2))
        #expect(clock.sleeps == 2)
    }

    @Test func aLongRetryAfterBecomesAnErrorNamingIt() async throws {
        let ca = Self.scripted([HTTPResponse(status: 429, headers: ["retry-after": ["3600"]], body: Self.rateLimited)])
        let client = ACMEClient(directoryURL: "https://ca.test/dir", transport: ca, accountKey: try AccountKey.generate(), accountURL: "https://ca.test/acct/1")
        await #expect { try await client.newOrder(identifiers: [.dns("a.test")]) } throws: { error in
            let text = "\(error)"
            return text.contains("rateLimited") && text.contains("too many new orders") && text.contains("retry after 3600 s")
        }
    }
}
