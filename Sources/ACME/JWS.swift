import Crypto
import FoundationEssentials
import Glibc

/// JSON Web Signatures as ACME uses them (RFC 8555 §6.2): flattened JSON serialization
/// (RFC 7515 §7.2.2), ES256 signatures as raw r ‖ s (RFC 7518 §3.4).
public enum JWS {
    /// The protected header: `alg`, then `jwk` (newAccount, RFC 8555 §6.2) or `kid`, `nonce`, `url`.
    public static func protectedHeader(algorithm: String, jwk: JWK?, kid: String?, nonce: String, url: String) -> String {
        var members = ["\"alg\":\(JSONText.quote(algorithm))"]
        if let kid { members.append("\"kid\":\(JSONText.quote(kid))") } else if let jwk { members.append("\"jwk\":\(jwk.canonicalJSON)") }
        members.append("\"nonce\":\(JSONText.quote(nonce))")
        members.append("\"url\":\(JSONText.quote(url))")
        return "{" + members.joined(separator: ",") + "}"
    }

    /// ASCII(BASE64URL(header) ‖ '.' ‖ BASE64URL(payload)) (RFC 7515 §5.1).
    public static func signingInput(protectedHeader: String, payload: [UInt8]) -> [UInt8] {
        Array((Base64URL.encode(Array(protectedHeader.utf8)) + "." + Base64URL.encode(payload)).utf8)
    }

    /// The flattened JSON serialization (RFC 7515 §7.2.2) as a value, for a JWS nested in a
    /// payload (external account binding).
    public struct Flattened: Encodable, Sendable {
        public var protected: String
        public var payload: String
        public var signature: String
    }

    public static func flattenedValue(protectedHeader: String, payload: [UInt8], sign: ([UInt8]) throws -> [UInt8]) rethrows -> Flattened {
        let signature = try sign(signingInput(protectedHeader: protectedHeader, payload: payload))
        return Flattened(protected: Base64URL.encode(Array(protectedHeader.utf8)), payload: Base64URL.encode(payload),
                         signature: Base64URL.encode(signature))
    }

    /// The flattened JSON serialization. `payload == nil` is POST-as-GET: the empty payload (RFC 8555 §6.3).
    public static func flattened(protectedHeader: String, payload: [UInt8]?, sign: ([UInt8]) throws -> [UInt8]) rethrows -> [UInt8] {
        let value = try flattenedValue(protectedHeader: protectedHeader, payload: payload ?? [], sign: sign)
        return Array("{\"protected\":\"\(value.protected)\",\"payload\":\"\(value.payload)\",\"signature\":\"\(value.signature)\"}".utf8)
    }

    /// ES256: ECDSA P-256 with SHA-256, signature as the 64-octet r ‖ s.
    public static func signES256(_ input: [UInt8], key: P256.Signing.PrivateKey) throws -> [UInt8] {
        Array(try key.signature(for: input).rawRepresentation)
    }

    public static func verifyES256(_ input: [UInt8], signature: [UInt8], key: P256.Signing.PublicKey) -> Bool {
        guard signature.count == 64, let parsed = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
        return key.isValidSignature(parsed, for: input)
    }
}
