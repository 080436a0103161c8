import Crypto
import Foundation
import SwiftASN1
import X509

/// The scripted CA's issuing hierarchy, made fresh with swift-certificates: a self-signed root,
/// an intermediate under it, and leaves for the key and names of a CSR. Leaves carry the
/// authority key identifier, so their ARI certificate ID (RFC 9773 §4.1) can be derived.
public struct ScriptedPKI: Sendable {
    /// The refusal of a CSR: unparsable, badly signed, or for other names than the order's.
    public struct Refusal: Error, CustomStringConvertible {
        public var description: String
    }

    /// Raw scalars: swift-crypto's key types are not Sendable everywhere (as in `AccountKey`).
    let intermediateScalar: Data
    public let root: Certificate
    public let intermediate: Certificate

    public init(name: String) throws {
        let now = Date()
        let rootKey = P256.Signing.PrivateKey()
        let intermediateKey = P256.Signing.PrivateKey()
        intermediateScalar = intermediateKey.rawRepresentation
        let rootName = try DistinguishedName { CommonName("Scripted Root (\(name))") }
        let intermediateName = try DistinguishedName { CommonName("Scripted Intermediate (\(name))") }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400 * 3650, issuer: rootName, subject: rootName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                SubjectKeyIdentifier(keyIdentifier: Self.keyIdentifier(rootKey.publicKey))
            },
            issuerPrivateKey: .init(rootKey))
        intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(intermediateKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 86_400 * 1825, issuer: rootName, subject: intermediateName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                SubjectKeyIdentifier(keyIdentifier: Self.keyIdentifier(intermediateKey.publicKey))
                AuthorityKeyIdentifier(keyIdentifier: Self.keyIdentifier(rootKey.publicKey))
            },
            issuerPrivateKey: .init(rootKey))
    }

    public var rootPEM: String { (try? root.serializeAsPEM().pemString) ?? "" }

    /// A PEM chain (leaf, intermediate) for the CSR's key and exactly `names` (any order and
    /// case), valid for 90 days.
    public func issue(csrDER: [UInt8], names: [String]) throws -> String {
        let csr: CertificateSigningRequest
        do {
            csr = try CertificateSigningRequest(derEncoded: csrDER)
        } catch {
            throw Refusal(description: "The CSR is not a PKCS#10 request (\(error))")
        }
        guard csr.publicKey.isValidSignature(csr.signature, for: csr) else {
            throw Refusal(description: "The CSR's signature does not verify with its public key")
        }
        let requested = ((try? csr.attributes.extensionRequest?.extensions.subjectAlternativeNames) ?? nil)?.compactMap { name -> String? in
            if case .dnsName(let text) = name { return text }
            return nil
        } ?? []
        guard Set(requested.map { $0.lowercased() }) == Set(names.map { $0.lowercased() }) else {
            throw Refusal(description: "The CSR names \(requested.sorted().joined(separator: ", ")), the order \(names.sorted().joined(separator: ", "))")
        }
        let now = Date()
        let intermediateKey = try P256.Signing.PrivateKey(rawRepresentation: intermediateScalar)
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: csr.publicKey,
            notValidBefore: now - 60, notValidAfter: now + 86_400 * 90, issuer: intermediate.subject,
            subject: try DistinguishedName { if let first = names.first, first.utf8.count <= 64 { CommonName(first) } },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
                AuthorityKeyIdentifier(keyIdentifier: Self.keyIdentifier(intermediateKey.publicKey))
                try ExtendedKeyUsage([.serverAuth])
            },
            issuerPrivateKey: .init(intermediateKey))
        return try [leaf, intermediate].map { try $0.serializeAsPEM().pemString + "\n" }.joined()
    }

    /// RFC 5280 §4.2.1.2 method 1 (truncated): SHA-1 would do; the first 20 octets of SHA-256
    /// of the key are as unique for a test.
    static func keyIdentifier(_ key: P256.Signing.PublicKey) -> ArraySlice<UInt8> {
        ArraySlice(SHA256.hash(data: key.x963Representation).prefix(20))
    }
}
