import Files
import FoundationEssentials
import Glibc
import Providers
import Settings
import SwiftASN1
import X509

/// A certificate signing request the user brings (`dns01 issue --csr FILE`): PEM or DER,
/// its signature verified, its names taken from the subjectAltName extension request (and the
/// subject CN). The private key stays with the user.
public struct CSRInput: Sendable {
    public let der: [UInt8]
    public let names: [String]

    public init(path: String) throws {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readBytes(path, limit: .csr) } catch let error as FileSystemError {
            throw ConfigError("Cannot read the CSR \(path): \(error.reason).")
        }
        try self.init(bytes: bytes, source: path)
    }

    public init(bytes: [UInt8], source: String) throws {
        let request: CertificateSigningRequest
        do {
            if let text = String(bytes: bytes, encoding: .utf8), text.contains("-----BEGIN") {
                request = try CertificateSigningRequest(pemEncoded: text)
            } else {
                request = try CertificateSigningRequest(derEncoded: bytes)
            }
        } catch {
            throw ConfigError("\(source) is not a PEM or DER certificate signing request.")
        }
        guard request.publicKey.isValidSignature(request.signature, for: request) else {
            throw ConfigError("The signature of the CSR \(source) does not verify with its own public key.")
        }
        var names: [String] = []
        if let extensions = try? request.attributes.extensionRequest?.extensions,
           let san = try? extensions.subjectAlternativeNames {
            for name in san {
                guard case .dnsName(let text) = name else {
                    throw ConfigError("The CSR \(source) asks for \(name), which is not a DNS name; dns01 validates DNS names only.")
                }
                names.append(text)
            }
        }
        for attribute in request.subject.flatMap({ $0 }) where attribute.type == .RDNAttributeType.commonName {
            names.append(attribute.value.description)
        }
        var seen = Set<String>()
        names = names.map { $0.lowercased() }.filter { seen.insert($0).inserted }
        guard !names.isEmpty else { throw ConfigError("The CSR \(source) names no domain (no subjectAltName and no common name).") }
        var serializer = DER.Serializer()
        do { try serializer.serialize(request) } catch {
            throw ConfigError("\(source) cannot be re-encoded as DER: \(error).")
        }
        der = serializer.serializedBytes
        self.names = names
    }
}
