import Crypto
import Foundation

/// The JWS algorithms an account key can use.
public enum AccountKeyAlgorithm: String, Sendable {
    case es256 = "ES256"
}

/// The ACME account key. Its PEM is written only to the state directory, never logged.
public struct AccountKey: Sendable {
    /// The raw scalar; swift-crypto's key type is not Sendable on every platform.
    private let raw: Data
    var key: P256.Signing.PrivateKey { try! P256.Signing.PrivateKey(rawRepresentation: raw) }
    public var algorithm: AccountKeyAlgorithm { .es256 }

    init(key: P256.Signing.PrivateKey) { raw = key.rawRepresentation }

    public static func generate(_ algorithm: AccountKeyAlgorithm = .es256) -> AccountKey {
        AccountKey(key: P256.Signing.PrivateKey())
    }

    /// Reads a P-256 key from PKCS#8 or SEC1 PEM.
    public init(pemRepresentation: String) throws {
        do {
            raw = try P256.Signing.PrivateKey(pemRepresentation: pemRepresentation).rawRepresentation
        } catch {
            throw ACMEError(.invalidKey, "The account key is not a PEM EC P-256 private key.")
        }
    }

    /// PKCS#8 PEM.
    public var pemRepresentation: String { key.pemRepresentation }

    public var jwk: JWK { JWK.ec(key.publicKey) }

    /// RFC 7638 thumbprint of the public key.
    public func thumbprint() -> String { jwk.thumbprint() }

    func sign(_ input: [UInt8]) throws -> [UInt8] { try JWS.signES256(input, key: key) }
}
