import _CryptoExtras
import FoundationEssentials
import Glibc

/// The assertion of OAuth 2.0's JWT bearer grant (RFC 7523 §2.1) as Google takes it for a
/// service account: a JWT (RFC 7519) signed RS256 (RFC 7518 §3.3) with the account's private
/// key, `iss` the account, `aud` the token URI, `scope` what the token may do, valid an hour.
enum GoogleJWT {
    /// Read and write Cloud DNS, no more.
    static let scope = "https://www.googleapis.com/auth/ndev.clouddns.readwrite"
    static let grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

    static func assertion(issuer: String, audience: String, keyID: String?, key: _RSA.Signing.PrivateKey, now: Date) throws -> String {
        let issued = Int(now.timeIntervalSince1970)
        var header: [String: String] = ["alg": "RS256", "typ": "JWT"]
        if let keyID { header["kid"] = keyID }
        struct Claims: Encodable {
            var iss: String
            var scope: String
            var aud: String
            var iat: Int
            var exp: Int
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let claims = Claims(iss: issuer, scope: scope, aud: audience, iat: issued, exp: issued + 3600)
        let input = base64URL(try encoder.encode(header)) + "." + base64URL(try encoder.encode(claims))
        let signature = try key.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return input + "." + base64URL(signature.rawRepresentation)
    }

    /// RFC 4648 §5, unpadded (RFC 7515 §2).
    static func base64URL(_ data: Data) -> String {
        var text = data.base64EncodedString()
        while text.hasSuffix("=") { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }
}
