import Foundation
import X509

extension CertificateChain {
    /// The most certificates one chain may hold: a leaf, intermediates and perhaps a
    /// cross-signed root are a handful; the bound keeps the signature checks cheap whatever a
    /// CA sends.
    public static let maxCertificates = 16

    /// Checks a downloaded chain before anything is stored, so a bad one never replaces a good
    /// certificate. RFC 8555 §7.4.2: the chain is PEM certificates, leaf first, each certified
    /// by the one after it; §7.4: the certificate is for the CSR's key and the order's
    /// identifiers. In order:
    ///
    /// - every PEM block parses as an X.509 certificate (at least one, at most
    ///   `maxCertificates`);
    /// - the leaf holds `publicKey`, the key of the CSR dns01 sent;
    /// - the leaf's subjectAltName DNS names are exactly `names` (ignoring case and order);
    /// - the leaf has not expired at `now`;
    /// - each certificate's signature verifies with the next one's public key.
    ///
    /// The first fault throws an `ACMEError` (`invalidCertificate`) naming it and `url`.
    /// Returns the parsed certificates, leaf first.
    @discardableResult
    public func validate(publicKey: Certificate.PublicKey, names: [String], url: String, now: Date = Date()) throws -> [Certificate] {
        let blocks = Self.pemBlocks(pem)
        guard !blocks.isEmpty else {
            throw ACMEError(.invalidCertificate, "The CA sent no PEM certificate from \(url).")
        }
        guard blocks.count <= Self.maxCertificates else {
            throw ACMEError(.invalidCertificate, "The certificate chain from \(url) holds \(blocks.count) PEM blocks; dns01 accepts at most \(Self.maxCertificates) certificates.")
        }
        var certificates: [Certificate] = []
        for (index, block) in blocks.enumerated() {
            guard let certificate = try? Certificate(pemEncoded: block) else {
                throw ACMEError(.invalidCertificate, "Certificate \(index + 1) of the chain from \(url) is not a parsable X.509 certificate.")
            }
            certificates.append(certificate)
        }
        guard let leaf = certificates.first else {
            throw ACMEError(.invalidCertificate, "The CA sent no PEM certificate from \(url).")
        }
        guard leaf.publicKey == publicKey else {
            throw ACMEError(.invalidCertificate, "The certificate from \(url) is for another public key than the one in dns01's certificate request.")
        }
        let issued = Self.dnsNames(of: leaf)
        let ordered = Set(names.map { $0.lowercased() })
        guard Set(issued.map { $0.lowercased() }) == ordered else {
            let got = issued.isEmpty ? "no DNS name" : Self.list(issued)
            throw ACMEError(.invalidCertificate, "The certificate from \(url) is for \(got), not for the names ordered (\(Self.list(names))).")
        }
        guard leaf.notValidAfter > now else {
            throw ACMEError(.invalidCertificate, "The certificate from \(url) expired on \(leaf.notValidAfter.formatted(.iso8601)).")
        }
        for index in certificates.indices.dropLast() {
            let subject = certificates[index], issuer = certificates[index + 1]
            guard issuer.publicKey.isValidSignature(subject.signature, for: subject) else {
                throw ACMEError(.invalidCertificate, "Certificate \(index + 1) of the chain from \(url) (\(Self.label(subject))) is not signed by certificate \(index + 2) (\(Self.label(issuer))), which follows it.")
            }
        }
        return certificates
    }

    /// The subjectAltName DNS names of a certificate; none when the extension is missing or
    /// malformed.
    static func dnsNames(of certificate: Certificate) -> [String] {
        guard let names = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name in
            if case .dnsName(let text) = name { return text }
            return nil
        }
    }

    /// Names for a sentence: cut to a few, each made printable.
    static func list(_ names: [String]) -> String {
        let shown = names.prefix(5).map { UntrustedText.clip($0, limit: 100) }.joined(separator: ", ")
        return names.count > 5 ? "\(shown) and \(names.count - 5) more" : shown
    }

    /// A certificate for a sentence: its subject's common name, else "no common name".
    static func label(_ certificate: Certificate) -> String {
        commonNames(of: certificate.subject).first.map { "CN=" + UntrustedText.clip($0, limit: 100) } ?? "no common name"
    }
}
