import FoundationEssentials
import Glibc
import HTTP
import Logging
import X509

/// The certificate resource's operations (RFC 8555 §7.4.2 download, §7.6 revocation); what is
/// downloaded is a `CertificateChain`.
extension ACMEClient {
    /// RFC 8555 §7.4.2: the PEM chain, and the URLs of alternate chains.
    public func downloadCertificate(at url: String) async throws -> CertificateChain {
        let response = try await post(url, payload: nil, what: "download the certificate", accept: "application/pem-certificate-chain")
        let pem = String(decoding: response.body, as: UTF8.self)
        guard pem.contains("-----BEGIN CERTIFICATE-----") else {
            throw ACMEError(.badResponse, "The CA at \(host) sent no PEM certificate chain from \(url).")
        }
        // RFC 8288 §3.2: a relative target is resolved against the URL the response came from.
        let alternates = LinkHeader.targets(response.headers["link"] ?? [], relation: "alternate").compactMap { target in
            URL(string: target, relativeTo: URL(string: url))?.absoluteURL.absoluteString
        }
        return CertificateChain(pem: pem, alternates: alternates)
    }

    /// The certificate chain to keep: the CA's default, unless `preferredChain` names an issuer
    /// (common name) that the default chain lacks and one of the alternates has. Every chain
    /// fetched, alternates too, must pass `CertificateChain.validate` for `publicKey` (the
    /// CSR's) and `names` (the order's), or this throws before anything is kept.
    public func downloadCertificate(at url: String, preferredChain: String?, publicKey: Certificate.PublicKey,
                                    names: [String]) async throws -> CertificateChain {
        let main = try await downloadCertificate(at: url)
        try main.validate(publicKey: publicKey, names: names, url: url)
        guard let preferredChain, !main.hasIssuer(commonName: preferredChain) else { return main }
        for alternate in main.alternates {
            let chain = try await downloadCertificate(at: alternate)
            try chain.validate(publicKey: publicKey, names: names, url: alternate)
            if chain.hasIssuer(commonName: preferredChain) {
                logger.info("Using the alternate chain issued by \(preferredChain)")
                return CertificateChain(pem: chain.pem, alternates: main.alternates)
            }
        }
        logger.info("No chain of \(host) is issued by '\(preferredChain)'; keeping the default chain")
        return main
    }

    /// RFC 8555 §7.6: revokes a certificate (DER) signed by this account, with an optional
    /// RFC 5280 reason code.
    public func revoke(certificateDER: [UInt8], reason: Int?) async throws {
        struct Payload: Encodable {
            var certificate: String
            var reason: Int?
        }
        guard let url = try await directory().revokeCert else {
            throw ACMEError(.unsupported, "The CA at \(host) offers no revocation (its directory has no revokeCert URL).")
        }
        let payload = Payload(certificate: Base64URL.encode(certificateDER), reason: reason)
        _ = try await post(url, payload: Array(try JSONEncoder.plain.encode(payload)), what: "revoke the certificate")
    }
}
