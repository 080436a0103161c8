import SwiftASN1
import X509

/// Certificate signing requests for finalize (RFC 8555 §7.4): PKCS#10 built with
/// swift-certificates, every name in the subjectAltName extension.
public enum CSRBuilder {
    /// DER of a CSR for `names` signed with `privateKey`; the first name is also the subject CN
    /// when it fits the 64-character limit of RFC 5280.
    public static func make(names: [String], privateKey: Certificate.PrivateKey) throws -> [UInt8] {
        guard let first = names.first else { throw ACMEError(.csr, "A certificate needs at least one name.") }
        do {
            let subject = try DistinguishedName {
                if first.utf8.count <= 64 { CommonName(first) }
            }
            let extensions = try Certificate.Extensions {
                SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
            }
            let attributes = try CertificateSigningRequest.Attributes([.init(ExtensionRequest(extensions: extensions))])
            let csr = try CertificateSigningRequest(version: .v1, subject: subject, privateKey: privateKey, attributes: attributes)
            var serializer = DER.Serializer()
            try serializer.serialize(csr)
            return serializer.serializedBytes
        } catch let error as ACMEError {
            throw error
        } catch {
            throw ACMEError(.csr, "Cannot build the certificate request for \(names.joined(separator: ", ")): \(error).")
        }
    }
}
