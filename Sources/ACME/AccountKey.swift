import _CryptoExtras
import Crypto
import FoundationEssentials
import Glibc

/// The JWS algorithms an account key can use (RFC 7518 §3.1).
public enum AccountKeyAlgorithm: String, Sendable {
    case es256 = "ES256"
    case es384 = "ES384"
    case rs256 = "RS256"
}

/// The account key types dns01 generates (`[acme] account_key_type`).
public enum AccountKeyType: String, CaseIterable, Sendable {
    case ec256, ec384, rsa2048, rsa3072, rsa4096
}

/// The ACME account key. Its PEM is written only to the state directory, never logged.
public struct AccountKey: Sendable {
    /// EC keys are kept as raw scalars: swift-crypto's EC key types are not Sendable everywhere.
    private enum Storage: Sendable {
        case p256(Data)
        case p384(Data)
        case rsa(_RSA.Signing.PrivateKey)
    }

    private let storage: Storage
    /// The EC key parsed once (a signature per ACME request re-imported it from its scalar,
    /// deriving the public point each time). Immutable after init.
    private let signer: ParsedSigner

    private final class ParsedSigner: @unchecked Sendable {
        let p256: P256.Signing.PrivateKey?
        let p384: P384.Signing.PrivateKey?
        init(_ storage: Storage) {
            switch storage {
            case .p256(let raw): p256 = try? P256.Signing.PrivateKey(rawRepresentation: raw); p384 = nil
            case .p384(let raw): p384 = try? P384.Signing.PrivateKey(rawRepresentation: raw); p256 = nil
            case .rsa: p256 = nil; p384 = nil
            }
        }
    }

    public var algorithm: AccountKeyAlgorithm {
        switch storage {
        case .p256: .es256
        case .p384: .es384
        case .rsa: .rs256
        }
    }

    /// A short description for `dns01 account show`: "ES256 (P-256)", "RS256 (3072-bit)".
    public var summary: String {
        switch storage {
        case .p256: "ES256 (EC P-256)"
        case .p384: "ES384 (EC P-384)"
        case .rsa(let key): "RS256 (RSA \(key.keySizeInBits)-bit)"
        }
    }

    var p256Key: P256.Signing.PrivateKey? { signer.p256 }

    public static func generate(_ type: AccountKeyType = .ec256) throws -> AccountKey {
        switch type {
        case .ec256: return AccountKey(storage: .p256(P256.Signing.PrivateKey().rawRepresentation))
        case .ec384: return AccountKey(storage: .p384(P384.Signing.PrivateKey().rawRepresentation))
        case .rsa2048: return AccountKey(storage: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits2048)))
        case .rsa3072: return AccountKey(storage: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits3072)))
        case .rsa4096: return AccountKey(storage: .rsa(try _RSA.Signing.PrivateKey(keySize: .bits4096)))
        }
    }

    private init(storage: Storage) {
        self.storage = storage
        signer = ParsedSigner(storage)
    }

    /// Reads an EC P-256 or P-384 key (PKCS#8 or SEC1 PEM) or an RSA key of 2048 to 4096 bits
    /// (PKCS#1 or PKCS#8 PEM): keys made by dns01, certbot, acme-tiny or openssl. The key's type
    /// and curve come from its own ASN.1 (`PEMPrivateKey`), so a key on another curve is refused
    /// by name instead of being read as a P-256 key with the same scalar. Errors are the second
    /// half of a sentence about the file ("it is an EC key on secp256k1; …").
    public init(pemRepresentation text: String) throws {
        let key = try PEMPrivateKey(text)
        let unreadable = ACMEError(.invalidKey, "its PEM private key cannot be read as the type it names.")
        switch key.kind {
        case .p256:
            guard let parsed = try? P256.Signing.PrivateKey(pemRepresentation: key.pem) else { throw unreadable }
            storage = .p256(parsed.rawRepresentation)
        case .p384:
            guard let parsed = try? P384.Signing.PrivateKey(pemRepresentation: key.pem) else { throw unreadable }
            storage = .p384(parsed.rawRepresentation)
        case .rsa:
            guard let parsed = try? _RSA.Signing.PrivateKey(unsafePEMRepresentation: key.pem) else { throw unreadable }
            guard (2048...4096).contains(parsed.keySizeInBits) else {
                throw ACMEError(.invalidKey, "it is an RSA \(parsed.keySizeInBits)-bit key; ACME accounts need 2048 to 4096 bits.")
            }
            storage = .rsa(parsed)
        }
        signer = ParsedSigner(storage)
    }

    /// PKCS#8 PEM for EC keys, PKCS#1 PEM for RSA keys (what certbot and openssl write).
    public var pemRepresentation: String {
        switch storage {
        case .p256(let raw): (try! P256.Signing.PrivateKey(rawRepresentation: raw)).pemRepresentation
        case .p384(let raw): (try! P384.Signing.PrivateKey(rawRepresentation: raw)).pemRepresentation
        case .rsa(let key): key.pemRepresentation
        }
    }

    public var jwk: JWK {
        switch storage {
        case .p256(let raw):
            return JWK.ec((try! P256.Signing.PrivateKey(rawRepresentation: raw)).publicKey)
        case .p384(let raw):
            let point = (try! P384.Signing.PrivateKey(rawRepresentation: raw)).publicKey.rawRepresentation
            return JWK.ec(curve: "P-384", x: point.prefix(48), y: point.suffix(48))
        case .rsa(let key):
            let primitives = try! key.publicKey.getKeyPrimitives()
            return JWK.rsa(n: Base64URL.encode(Self.unsigned(primitives.modulus)),
                           e: Base64URL.encode(Self.unsigned(primitives.publicExponent)))
        }
    }

    /// RFC 7638 thumbprint of the public key.
    public func thumbprint() -> String { jwk.thumbprint() }

    /// The JWS signature over `input` (RFC 7518 §3.3, §3.4): r ‖ s for EC, PKCS#1 v1.5 for RSA.
    public func sign(_ input: [UInt8]) throws -> [UInt8] {
        switch storage {
        case .p256(let raw):
            try JWS.signES256(input, key: signer.p256 ?? P256.Signing.PrivateKey(rawRepresentation: raw))
        case .p384(let raw):
            Array(try (signer.p384 ?? P384.Signing.PrivateKey(rawRepresentation: raw)).signature(for: input).rawRepresentation)
        case .rsa(let key):
            Array(try key.signature(for: SHA256.hash(data: input), padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }

    /// Big-endian integer bytes without leading zero octets (RFC 7518 §6.3.1).
    private static func unsigned(_ bytes: Data) -> [UInt8] {
        let trimmed = bytes.drop { $0 == 0 }
        return trimmed.isEmpty ? [0] : Array(trimmed)
    }
}
