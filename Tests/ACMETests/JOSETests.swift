@testable import ACME
import Crypto
import Foundation
import Testing

/// Published vectors: RFC 7515 appendix A.3 (ES256) and RFC 7638 §3.1 (JWK thumbprint).
@Suite struct JOSETests {
    // RFC 7515 A.3.1
    static let x = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    static let y = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    static let d = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"
    static let header = "eyJhbGciOiJFUzI1NiJ9"
    static let payload = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    static let signature = "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"

    var publicKey: P256.Signing.PublicKey {
        get throws { try JWK(members: ["kty": "EC", "crv": "P-256", "x": Self.x, "y": Self.y]).p256PublicKey() }
    }

    @Test func rfc7515A3SignatureVerifies() throws {
        let input = Array((Self.header + "." + Self.payload).utf8)
        let signature = try #require(Base64URL.decode(Self.signature))
        #expect(signature.count == 64)
        #expect(JWS.verifyES256(input, signature: signature, key: try publicKey))
        var tampered = signature
        tampered[63] ^= 1
        #expect(!JWS.verifyES256(input, signature: tampered, key: try publicKey))
    }

    @Test func rfc7515A3SigningRoundTrip() throws {
        let raw = try #require(Base64URL.decode(Self.d))
        let key = try P256.Signing.PrivateKey(rawRepresentation: raw)
        #expect(JWK.ec(key.publicKey) == JWK(members: ["kty": "EC", "crv": "P-256", "x": Self.x, "y": Self.y]))
        let input = Array((Self.header + "." + Self.payload).utf8)
        let signature = try JWS.signES256(input, key: key)
        #expect(signature.count == 64)
        #expect(JWS.verifyES256(input, signature: signature, key: try publicKey))
    }

    @Test func rfc7638ThumbprintOfTheRSAExample() {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let jwk = JWK.rsa(n: n, e: "AQAB")
        #expect(jwk.canonicalJSON.hasPrefix("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"0vx7"))
        #expect(jwk.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func ecCanonicalFormOrdersMembers() {
        let jwk = JWK(members: ["y": "Y", "x": "X", "kty": "EC", "crv": "P-256"])
        #expect(jwk.canonicalJSON == #"{"crv":"P-256","kty":"EC","x":"X","y":"Y"}"#)
    }

    @Test func flattenedJWSCarriesHeaderPayloadAndAVerifiableSignature() throws {
        let account = try AccountKey.generate()
        let header = JWS.protectedHeader(algorithm: "ES256", jwk: account.jwk, kid: nil, nonce: "n1", url: "https://ca/new-acct")
        let body = try JWS.flattened(protectedHeader: header, payload: Array("{}".utf8), sign: account.sign)
        let object = try #require(JSONSerialization.jsonObject(with: Data(body)) as? [String: String])
        let decodedHeader = try #require(Base64URL.decode(object["protected"]!))
        let fields = try #require(JSONSerialization.jsonObject(with: Data(decodedHeader)) as? [String: Any])
        #expect(fields["alg"] as? String == "ES256")
        #expect(fields["nonce"] as? String == "n1")
        #expect(fields["url"] as? String == "https://ca/new-acct")
        #expect(fields["jwk"] != nil && fields["kid"] == nil)
        let input = Array((object["protected"]! + "." + object["payload"]!).utf8)
        let signature = try #require(Base64URL.decode(object["signature"]!))
        #expect(JWS.verifyES256(input, signature: signature, key: try #require(account.p256Key).publicKey))

        // After newAccount: kid, no jwk; POST-as-GET has the empty payload (RFC 8555 §6.3).
        let kidHeader = JWS.protectedHeader(algorithm: "ES256", jwk: account.jwk, kid: "https://ca/acct/1", nonce: "n2", url: "https://ca/order/1")
        #expect(kidHeader.contains("\"kid\":\"https://ca/acct/1\"") && !kidHeader.contains("jwk"))
        let get = try JWS.flattened(protectedHeader: kidHeader, payload: nil, sign: account.sign)
        #expect(String(decoding: get, as: UTF8.self).contains("\"payload\":\"\""))
    }

    @Test func accountKeyPEMRoundTrips() throws {
        let key = try AccountKey.generate()
        let again = try AccountKey(pemRepresentation: key.pemRepresentation)
        #expect(again.thumbprint() == key.thumbprint())
        #expect(throws: ACMEError.self) { try AccountKey(pemRepresentation: "not a key") }
    }

    @Test(arguments: [
        ("", ""), ("f", "Zg"), ("fo", "Zm8"), ("foo", "Zm9v"), ("foob", "Zm9vYg"),
    ])
    func base64urlRFC4648Vectors(_ plain: String, _ encoded: String) {
        #expect(Base64URL.encode(Array(plain.utf8)) == encoded)
        #expect(Base64URL.decode(encoded) == Array(plain.utf8))
    }
}
