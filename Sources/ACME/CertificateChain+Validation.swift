import FoundationEssentials
import Glibc
import HTTP
import SwiftASN1
import X509

extension CertificateChain {
    /// The most certificates one chain may hold: a leaf, intermediates and perhaps a
    /// cross-signed root are a handful; the bound keeps the signature checks cheap whatever a
    /// CA sends.
    public static let maxCertificates = 16

    /// Where a chain being checked comes from, as the check's sentences name it.
    public struct Origin: Sendable {
        /// Follows "the certificate" and "the chain": "from https://ca/cert/1", "of web
        /// version 3 in PostgreSQL at db:5432".
        public var phrase: String
        /// Follows "for another public key than": "the one in dns01's certificate request".
        public var key: String
        /// Follows "not for": "the names ordered", "the configured names".
        public var names: String
        /// The whole sentence for a chain without a certificate.
        public var empty: String

        public init(phrase: String, key: String, names: String, empty: String) {
            self.phrase = phrase
            self.key = key
            self.names = names
            self.empty = empty
        }

        /// A chain the CA served at `url`.
        public static func ca(_ url: String) -> Origin {
            Origin(phrase: "from \(url)", key: "the one in dns01's certificate request", names: "the names ordered",
                   empty: "The CA sent no PEM certificate from \(url).")
        }
    }

    /// Checks a downloaded chain before anything is stored, so a bad one never replaces a good
    /// certificate: `validate(publicKey:names:origin:now:)` for the CA at `url`.
    @discardableResult
    public func validate(publicKey: Certificate.PublicKey, names: [String], url: String, now: Date = Date()) throws -> [Certificate] {
        try validate(publicKey: publicKey, names: names, origin: .ca(url), now: now)
    }

    /// Checks a chain before it is made live, whatever its origin (the CA, a placeholder, the
    /// fleet's database, an imported directory). RFC 8555 §7.4.2: the chain is PEM
    /// certificates, leaf first, each certified by the one after it; §7.4: the certificate is
    /// for the CSR's key and the order's identifiers. In order:
    ///
    /// - every PEM block parses as an X.509 certificate (at least one, at most
    ///   `maxCertificates`);
    /// - the leaf holds `publicKey` (the key of the CSR, or the private key stored with it;
    ///   nil: no key to match, a certificate from the user's own CSR);
    /// - the leaf's subjectAltName DNS names are exactly `names` (ignoring case and order);
    /// - the leaf has not expired at `now`;
    /// - each certificate's signature verifies with the next one's public key; a chain of one
    ///   self-issued certificate (issuer = subject: a self-signed one, like dns01's placeholder)
    ///   verifies with its own public key.
    ///
    /// The first fault throws an `ACMEError` (`invalidCertificate`) naming it and `origin`.
    /// Returns the parsed certificates, leaf first.
    @discardableResult
    public func validate(publicKey: Certificate.PublicKey?, names: [String], origin: Origin, now: Date = Date()) throws -> [Certificate] {
        let blocks = Self.pemBlocks(pem)
        guard !blocks.isEmpty else {
            throw ACMEError(.invalidCertificate, origin.empty)
        }
        guard blocks.count <= Self.maxCertificates else {
            throw ACMEError(.invalidCertificate, "The certificate chain \(origin.phrase) holds \(blocks.count) PEM blocks; dns01 accepts at most \(Self.maxCertificates) certificates.")
        }
        var certificates: [Certificate] = []
        for (index, block) in blocks.enumerated() {
            guard let certificate = try? Certificate(pemEncoded: block) else {
                throw ACMEError(.invalidCertificate, "Certificate \(index + 1) of the chain \(origin.phrase) is not a parsable X.509 certificate.")
            }
            certificates.append(certificate)
        }
        guard let leaf = certificates.first else {
            throw ACMEError(.invalidCertificate, origin.empty)
        }
        if let publicKey {
            guard leaf.publicKey == publicKey else {
                throw ACMEError(.invalidCertificate, "The certificate \(origin.phrase) is for another public key than \(origin.key).")
            }
        }
        let issued = Self.dnsNames(of: leaf)
        let ordered = Set(names.map { $0.lowercased() })
        guard Set(issued.map { $0.lowercased() }) == ordered else {
            let got = issued.isEmpty ? "no DNS name" : Self.list(issued)
            throw ACMEError(.invalidCertificate, "The certificate \(origin.phrase) is for \(got), not for \(origin.names) (\(Self.list(names))).")
        }
        guard leaf.notValidAfter > now else {
            throw ACMEError(.invalidCertificate, "The certificate \(origin.phrase) expired on \(leaf.notValidAfter.formatted(.iso8601)).")
        }
        for index in certificates.indices.dropLast() {
            let subject = certificates[index], issuer = certificates[index + 1]
            guard issuer.publicKey.isValidSignature(subject.signature, for: subject) else {
                throw ACMEError(.invalidCertificate, "Certificate \(index + 1) of the chain \(origin.phrase) (\(Self.label(subject))) is not signed by certificate \(index + 2) (\(Self.label(issuer))), which follows it.")
            }
        }
        if certificates.count == 1, leaf.issuer == leaf.subject, !leaf.publicKey.isValidSignature(leaf.signature, for: leaf) {
            throw ACMEError(.invalidCertificate, "The self-signed certificate \(origin.phrase) (\(Self.label(leaf))) is not signed by its own key.")
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
