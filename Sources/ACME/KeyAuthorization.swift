import Crypto
import FoundationEssentials
import Glibc

/// Key authorizations (RFC 8555 §8.1) and the dns-01 TXT value (§8.4).
public enum KeyAuthorization {
    /// token ‖ '.' ‖ base64url(JWK thumbprint)
    public static func string(token: String, thumbprint: String) -> String { token + "." + thumbprint }

    /// base64url(SHA-256(key authorization)): what the TXT record at _acme-challenge holds; the
    /// dns-account-01 record (at `DNSAccountLabel.challengeName(for:)`) holds the same value.
    public static func dns01Value(token: String, thumbprint: String) -> String {
        dns01Value(keyAuthorization: string(token: token, thumbprint: thumbprint))
    }

    /// The dns-01 TXT value of a key authorization another client made (lego's exec provider
    /// in `EXEC_MODE=RAW` passes the key authorization, not the value).
    public static func dns01Value(keyAuthorization: String) -> String {
        Base64URL.encode(SHA256.hash(data: Data(keyAuthorization.utf8)))
    }
}
