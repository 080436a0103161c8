import X509

/// A downloaded certificate chain (RFC 8555 §7.4.2).
public struct CertificateChain: Sendable {
    /// PEM, leaf first, as the CA served it.
    public var pem: String
    /// `Link: <…>;rel="alternate"` URLs of alternate chains.
    public var alternates: [String]

    public init(pem: String, alternates: [String] = []) {
        self.pem = pem
        self.alternates = alternates
    }

    /// The certificates of the chain, leaf first; unparsable blocks are skipped.
    public var certificates: [Certificate] {
        pem.components(separatedBy: "-----END CERTIFICATE-----").compactMap { part in
            guard let start = part.range(of: "-----BEGIN CERTIFICATE-----") else { return nil }
            return try? Certificate(pemEncoded: String(part[start.lowerBound...]) + "-----END CERTIFICATE-----")
        }
    }

    /// Whether any certificate of the chain was issued by a CA with this common name — the
    /// way certbot and lego match `preferred_chain` (e.g. "ISRG Root X1").
    public func hasIssuer(commonName: String) -> Bool {
        certificates.contains { Self.commonNames(of: $0.issuer).contains(commonName) }
    }

    static func commonNames(of name: DistinguishedName) -> [String] {
        name.flatMap { $0 }.compactMap { attribute in
            attribute.type == .RDNAttributeType.commonName ? attribute.value.description : nil
        }
    }
}
