import Crypto
import FoundationEssentials
import FoundationShim
import Glibc

/// External account binding (RFC 8555 §7.3.4): the key id and MAC key a CA such as ZeroSSL or
/// Google Trust Services hands out, proving the new ACME account belongs to an existing
/// customer. The MAC key is never logged.
public struct ExternalAccountBinding: Sendable {
    public let keyID: String
    private let macKey: [UInt8]

    /// `macKey` as the CA gives it: base64url (padding and standard base64 tolerated).
    public init(keyID: String, encodedMACKey: String) throws {
        let text = encodedMACKey.trimmingWhitespaceAndNewlines()
            .replacing("+", with: "-").replacing("/", with: "_")
            .replacing("=", with: "")
        guard !keyID.isEmpty else { throw ACMEError(.invalidKey, "The external account key id is empty.") }
        guard let key = Base64URL.decode(text), !key.isEmpty else {
            throw ACMEError(.invalidKey, "The external account MAC key is not base64url text.")
        }
        self.keyID = keyID
        macKey = key
    }

    /// The `externalAccountBinding` member of a newAccount payload: a JWS over the account's
    /// JWK, HS256 with the MAC key, its protected header carrying `kid` and the newAccount `url`.
    public func sign(accountJWK: JWK, url: String) throws -> JWS.Flattened {
        let header = "{\"alg\":\"HS256\",\"kid\":\(JSONText.quote(keyID)),\"url\":\(JSONText.quote(url))}"
        return JWS.flattenedValue(protectedHeader: header, payload: Array(accountJWK.canonicalJSON.utf8), sign: mac)
    }

    /// HS256 (RFC 7518 §3.2): HMAC-SHA-256 with the MAC key.
    public func mac(_ input: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: input, using: SymmetricKey(data: macKey)))
    }
}
