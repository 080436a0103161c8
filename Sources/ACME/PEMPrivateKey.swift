import SwiftASN1

/// A PEM private key from outside (an account key file), its type read from its own ASN.1
/// before any key parser sees it.
///
/// swift-crypto's `P256.Signing.PrivateKey(pemRepresentation:)` takes the scalar of any EC key
/// without looking at the curve, so a secp256k1 or P-384 key would be read as a different P-256
/// key. Here the curve OID decides: PKCS#8 (RFC 5208 §5) names it in its AlgorithmIdentifier
/// (RFC 5480 §2.1.1), SEC1 (RFC 5915 §3) in its `parameters` field.
public struct PEMPrivateKey: Sendable {
    public enum Kind: Sendable, Equatable {
        case p256, p384, rsa
    }

    public let kind: Kind
    /// The key's own PEM block (without any `EC PARAMETERS` block that came with it).
    public let pem: String

    /// Reads the one private key in `text`; the error names the key type found when dns01
    /// cannot sign with it.
    public init(_ text: String) throws {
        let documents: [PEMDocument]
        do { documents = try PEMDocument.parseMultiple(pemString: text) } catch {
            throw ACMEError(.invalidKey, "it is not a PEM file (no well-formed BEGIN/END block).")
        }
        // `openssl ecparam -genkey` writes an EC PARAMETERS block before the key.
        let keys = documents.filter { $0.discriminator != "EC PARAMETERS" }
        guard let document = keys.first else { throw ACMEError(.invalidKey, "it holds no PEM private key.") }
        guard keys.count == 1 else { throw ACMEError(.invalidKey, "it holds \(keys.count) PEM blocks; put only the private key in it.") }
        switch document.discriminator {
        case "RSA PRIVATE KEY":
            kind = .rsa
        case "EC PRIVATE KEY":
            kind = try Self.ecKind(Self.sec1Curve(document.derBytes))
        case "PRIVATE KEY":
            let (algorithm, curve) = try Self.pkcs8Algorithm(document.derBytes)
            switch algorithm {
            case Self.rsaEncryption: kind = .rsa
            case Self.ecPublicKey: kind = try Self.ecKind(curve)
            default: throw Self.unsupported(Self.algorithmNames[algorithm] ?? "a key of algorithm \(algorithm)")
            }
        case "ENCRYPTED PRIVATE KEY":
            throw ACMEError(.invalidKey, "it is an encrypted private key; dns01 reads only unencrypted keys (decrypt it with openssl pkey).")
        case "OPENSSH PRIVATE KEY":
            throw ACMEError(.invalidKey, "it is an OpenSSH private key; dns01 reads PKCS#1, PKCS#8 or SEC1 PEM keys.")
        default:
            let type = document.discriminator.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isAlphabetic || $0 == " " }
                ? "a '\(document.discriminator.prefix(40))' PEM block" : "a PEM block of unknown type"
            throw Self.unsupported(type)
        }
        pem = document.pemString
    }

    private static func unsupported(_ what: String) -> ACMEError {
        ACMEError(.invalidKey, "it is \(what); dns01 signs with EC P-256, EC P-384 or RSA 2048 to 4096 bits.")
    }

    private static func ecKind(_ curve: ASN1ObjectIdentifier?) throws -> Kind {
        switch curve {
        case secp256r1: return .p256
        case secp384r1: return .p384
        case nil: throw ACMEError(.invalidKey, "it is an EC key that names no curve (explicit or missing parameters); dns01 needs a named curve, P-256 or P-384.")
        case let curve?: throw unsupported("an EC key on \(curveNames[curve] ?? "curve \(curve)")")
        }
    }

    /// PKCS#8 PrivateKeyInfo: SEQUENCE { version, AlgorithmIdentifier { algorithm, parameters }, privateKey, … }.
    private static func pkcs8Algorithm(_ der: [UInt8]) throws -> (ASN1ObjectIdentifier, ASN1ObjectIdentifier?) {
        do {
            return try DER.sequence(DER.parse(der), identifier: .sequence) { nodes in
                _ = try Int(derEncoded: &nodes)
                guard let identifier = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no AlgorithmIdentifier") }
                let result = try DER.sequence(identifier, identifier: .sequence) { inner in
                    let algorithm = try ASN1ObjectIdentifier(derEncoded: &inner)
                    let parameter = inner.next().flatMap { try? ASN1ObjectIdentifier(derEncoded: $0) }
                    while inner.next() != nil {}
                    return (algorithm, parameter)
                }
                while nodes.next() != nil {}
                return result
            }
        } catch {
            throw ACMEError(.invalidKey, "its PKCS#8 private key is not well-formed DER.")
        }
    }

    /// SEC1 ECPrivateKey: SEQUENCE { version 1, privateKey, [0] ECParameters OPTIONAL, [1] publicKey OPTIONAL }.
    private static func sec1Curve(_ der: [UInt8]) throws -> ASN1ObjectIdentifier? {
        do {
            return try DER.sequence(DER.parse(der), identifier: .sequence) { nodes in
                _ = try Int(derEncoded: &nodes)
                _ = try ASN1OctetString(derEncoded: &nodes)
                var curve: ASN1ObjectIdentifier?
                while let node = nodes.next() {
                    if node.identifier == ASN1Identifier(tagWithNumber: 0, tagClass: .contextSpecific),
                       case .constructed(let children) = node.content {
                        var parameters = children.makeIterator()
                        curve = parameters.next().flatMap { try? ASN1ObjectIdentifier(derEncoded: $0) }
                    }
                }
                return curve
            }
        } catch {
            throw ACMEError(.invalidKey, "its SEC1 EC private key is not well-formed DER.")
        }
    }

    private static let rsaEncryption: ASN1ObjectIdentifier = [1, 2, 840, 113549, 1, 1, 1]
    private static let ecPublicKey: ASN1ObjectIdentifier = [1, 2, 840, 10045, 2, 1]
    private static let secp256r1: ASN1ObjectIdentifier = [1, 2, 840, 10045, 3, 1, 7]
    private static let secp384r1: ASN1ObjectIdentifier = [1, 3, 132, 0, 34]

    private static let curveNames: [ASN1ObjectIdentifier: String] = [
        [1, 3, 132, 0, 35]: "P-521",
        [1, 3, 132, 0, 10]: "secp256k1",
        [1, 2, 840, 10045, 3, 1, 1]: "P-192",
        [1, 3, 132, 0, 33]: "P-224",
        [1, 3, 36, 3, 3, 2, 8, 1, 1, 7]: "brainpoolP256r1",
        [1, 3, 36, 3, 3, 2, 8, 1, 1, 11]: "brainpoolP384r1",
        [1, 3, 36, 3, 3, 2, 8, 1, 1, 13]: "brainpoolP512r1",
        [1, 2, 156, 10197, 1, 301]: "SM2",
    ]

    private static let algorithmNames: [ASN1ObjectIdentifier: String] = [
        [1, 3, 101, 112]: "an Ed25519 key",
        [1, 3, 101, 113]: "an Ed448 key",
        [1, 3, 101, 110]: "an X25519 key",
        [1, 3, 101, 111]: "an X448 key",
        [1, 2, 840, 10040, 4, 1]: "a DSA key",
        [1, 2, 840, 113549, 1, 1, 10]: "an RSA-PSS key",
        [1, 2, 840, 113549, 1, 3, 1]: "a Diffie-Hellman key",
        [1, 2, 840, 10046, 2, 1]: "an X9.42 Diffie-Hellman key",
    ]
}
