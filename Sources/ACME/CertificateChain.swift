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
}
