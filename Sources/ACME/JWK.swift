import Crypto
import FoundationEssentials
import Glibc

/// A public JSON Web Key (RFC 7517) holding just the members RFC 7638 §3.2 requires, which is
/// all ACME needs: the `jwk` header of newAccount and the thumbprint of key authorizations.
public struct JWK: Sendable, Equatable {
    /// Required members by name: kty, crv, x, y for EC; kty, n, e for RSA.
    public var members: [String: String]

    public init(members: [String: String]) {
        self.members = members
    }

    /// An EC P-256 public key (RFC 7518 §6.2.1).
    public static func ec(_ key: P256.Signing.PublicKey) -> JWK {
        let raw = key.rawRepresentation  // x ‖ y, 32 octets each
        return ec(curve: "P-256", x: raw.prefix(32), y: raw.suffix(32))
    }

    /// An EC public key from its curve name and coordinates (RFC 7518 §6.2.1).
    public static func ec(curve: String, x: some Sequence<UInt8>, y: some Sequence<UInt8>) -> JWK {
        JWK(members: ["kty": "EC", "crv": curve, "x": Base64URL.encode(Array(x)), "y": Base64URL.encode(Array(y))])
    }

    /// An RSA public key from its base64url modulus and exponent (RFC 7518 §6.3.1).
    public static func rsa(n: String, e: String) -> JWK {
        JWK(members: ["kty": "RSA", "n": n, "e": e])
    }

    /// RFC 7638 §3: the required members in lexicographic order, no whitespace.
    public var canonicalJSON: String {
        "{" + members.keys.sorted().map { "\(JSONText.quote($0)):\(JSONText.quote(members[$0]!))" }.joined(separator: ",") + "}"
    }

    /// RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)).
    public func thumbprint() -> String {
        Base64URL.encode(SHA256.hash(data: Data(canonicalJSON.utf8)))
    }

    /// The P-256 public key of an EC JWK.
    public func p256PublicKey() throws -> P256.Signing.PublicKey {
        guard members["kty"] == "EC", members["crv"] == "P-256",
              let x = members["x"].flatMap(Base64URL.decode), let y = members["y"].flatMap(Base64URL.decode),
              x.count == 32, y.count == 32 else {
            throw ACMEError(.invalidKey, "The JWK is not an EC P-256 public key.")
        }
        return try P256.Signing.PublicKey(rawRepresentation: x + y)
    }
}

/// Minimal JSON text helpers for the few documents whose exact bytes matter (JWS headers,
/// JWK thumbprints).
enum JSONText {
    static func quote(_ string: String) -> String {
        let data = try! JSONEncoder.plain.encode(string)
        return String(decoding: data, as: UTF8.self)
    }
}

extension JSONEncoder {
    /// Sorted keys, no escaped slashes: stable bytes for signing.
    static var plain: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
