import _CryptoExtras
import Crypto
import SwiftASN1
import X509

/// The key types a certificate's private key can have (`key_type` in the config).
public enum KeyType: String, CaseIterable, Sendable {
    case ec256, ec384, rsa2048, rsa3072, rsa4096

    /// A new private key of this type, and its PEM (PKCS#8 for EC, PKCS#1 for RSA).
    public func generate() throws -> (key: Certificate.PrivateKey, pem: String) {
        let key: Certificate.PrivateKey
        switch self {
        case .ec256: key = Certificate.PrivateKey(P256.Signing.PrivateKey())
        case .ec384: key = Certificate.PrivateKey(P384.Signing.PrivateKey())
        case .rsa2048: key = Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits2048))
        case .rsa3072: key = Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits3072))
        case .rsa4096: key = Certificate.PrivateKey(try _RSA.Signing.PrivateKey(keySize: .bits4096))
        }
        return (key, try key.serializeAsPEM().pemString + "\n")
    }
}
