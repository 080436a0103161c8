import SwiftASN1
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
        Self.pemBlocks(pem).compactMap { try? Certificate(pemEncoded: $0) }
    }

    /// The PEM blocks of a text, each with its trailing newline; lines are split on LF and
    /// stripped of spaces, tabs and CR (bytes, so "\r\n" is not one Character here).
    public static func pemBlocks(_ text: String) -> [String] {
        var blocks: [String] = []
        var current: [UInt8] = []
        let blank: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
        for raw in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            guard let first = raw.firstIndex(where: { !blank($0) }), let last = raw.lastIndex(where: { !blank($0) }) else {
                current.append(0x0A)
                continue
            }
            let line = raw[first...last]
            if line.starts(with: "-----BEGIN ".utf8) { current = [] }
            current.append(contentsOf: line)
            current.append(0x0A)
            if line.starts(with: "-----END ".utf8) {
                blocks.append(String(decoding: current, as: UTF8.self))
                current = []
            }
        }
        return blocks
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
