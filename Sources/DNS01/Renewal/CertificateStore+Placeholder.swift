import _CryptoExtras
import ACME
import Blocking
import Crypto
import Files
import FoundationEssentials
import Glibc
import Providers
import Storage
import SwiftASN1
import X509

/// `[[certificate]] placeholder = true`: when live/NAME holds no certificate, a self-signed one
/// for the certificate's names goes there at once, so a web server configured with
/// live/NAME/{privkey,fullchain}.pem can start before the CA has answered (or while it fails).
///
/// The placeholder is a version like any other (archive/NAME/0001, kept there afterwards), made
/// live by the same atomic link flip. The first certificate from the CA reuses its private key:
/// a server that opens privkey.pem and fullchain.pem one after the other, across the flip, then
/// gets a matching pair whichever of the two versions each open sees. Without the reuse it could
/// pair the placeholder's key with the CA's certificate, and fail its TLS handshakes until
/// reloaded.
///
/// A placeholder is never taken for a real certificate: it is recognised by its subject, which
/// is also its issuer, holding O=`placeholderOrganization`; `RenewalPlan` makes it due at once
/// and asks the CA no renewal information for it.
extension CertificateStore {
    /// The organization (O) in a placeholder's subject and issuer.
    public static let placeholderOrganization = "dns01 placeholder"
    /// How long a placeholder is valid: long enough to outlast `give_up_after`'s default, short
    /// enough that it is obviously temporary.
    public static let placeholderLifetime: TimeInterval = 7 * 86400

    /// True for dns01's self-signed placeholder (issuer = subject, O = "dns01 placeholder").
    public static func isPlaceholder(_ certificate: Certificate) -> Bool {
        guard certificate.issuer == certificate.subject else { return false }
        return certificate.subject.flatMap { $0 }.contains { attribute in
            attribute.type == .RDNAttributeType.organizationName && attribute.value.description == placeholderOrganization
        }
    }

    /// A self-signed certificate for `domains` with a new key of `keyType`, valid from `now` for
    /// `placeholderLifetime`: the certificate's PEM and the key's PEM.
    static func makePlaceholder(domains: [String], keyType: KeyType, now: Date) throws -> (certificatePEM: String, keyPEM: String) {
        guard let first = domains.first else { throw OperationError("A placeholder certificate needs at least one name.") }
        let (key, keyPEM) = try keyType.generate()
        let name = try DistinguishedName {
            OrganizationName(placeholderOrganization)
            if first.utf8.count <= 64 { CommonName(first) }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: keyType.isRSA))
            try ExtendedKeyUsage([.serverAuth])
            SubjectAlternativeNames(domains.map { GeneralName.dnsName($0) })
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: key.publicKey,
            notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(placeholderLifetime),
            issuer: name, subject: name, extensions: extensions, issuerPrivateKey: key)
        let pem = try certificate.serializeAsPEM().pemString + "\n"
        return (pem, keyPEM)
    }

    /// Writes a placeholder for `domains` into live/`name` when it holds no certificate
    /// (no cert.pem at all: a damaged one is left for the user to see). Returns the placeholder's
    /// notAfter when it wrote one, nil when live/`name` had a certificate. Callers hold the
    /// certificate's `CertificateLock`.
    public func writePlaceholderIfMissing(name: String, domains: [String], keyType: KeyType, now: Date = Date()) async throws -> Date? {
        guard !FileSystem.exists("\(liveDirectory(name))/cert.pem") else { return nil }
        let made = try await BlockingPool.shared.run { try Self.makePlaceholder(domains: domains, keyType: keyType, now: now) }
        // Checked like any version: its key, its names, and its one certificate signed by
        // itself (what "signed in order" means for a self-signed chain).
        let place = "the placeholder for \(name)"
        _ = try await install(Candidate(name: name, chainPEM: made.certificatePEM, keyPEM: made.keyPEM, names: domains, source: .new,
                                        origin: CertificateChain.Origin(phrase: "of \(place)", key: "its private key", names: "the configured names",
                                                                        empty: "The chain of \(place) holds no PEM certificate.")),
                              events: { _ in })
        return now.addingTimeInterval(Self.placeholderLifetime)
    }

    /// The private key of live/`name` when it holds a placeholder whose key is its certificate's
    /// and of type `keyType` (a placeholder from before a `key_type` change is not reused).
    func placeholderKey(name: String, keyType: KeyType) -> Certificate.PrivateKey? {
        let live = liveDirectory(name)
        guard let certificate = try? currentCertificate(name), Self.isPlaceholder(certificate),
              let text = try? FileSystem.readText("\(live)/privkey.pem", limit: .pem),
              let key = try? Certificate.PrivateKey(pemEncoded: text),
              key.publicKey == certificate.publicKey, KeyType(of: key.publicKey) == keyType
        else { return nil }
        return key
    }

    /// What `dns01 run` and `dns01 issue` do under the certificate's lock before they issue
    /// `request`: with `placeholder`, write one when live/NAME holds no certificate (saying so);
    /// and when live/NAME holds a placeholder (written now or earlier), send a CSR made with its
    /// key, so the CA's certificate goes with the key already live (`save` carries the key over
    /// into the new version). A request with the user's own CSR is left as it is: dns01 has no
    /// key of its own to put in live/ for it.
    public func prepare(_ request: IssueRequest, placeholder: Bool, events: EventSink, now: Date = Date()) async throws -> IssueRequest {
        guard request.csr == nil else { return request }
        if placeholder, let notAfter = try await writePlaceholderIfMissing(name: request.certName, domains: request.domains,
                                                                            keyType: request.keyType, now: now) {
            events(.step("\(request.certName): no certificate yet; wrote a self-signed placeholder for \(request.domains.joined(separator: ", ")) to \(liveDirectory(request.certName)) (valid until \(notAfter.formatted(.iso8601))), to be replaced by the CA's"))
        }
        guard let key = placeholderKey(name: request.certName, keyType: request.keyType) else { return request }
        do {
            let der = try CSRBuilder.make(names: request.domains, privateKey: key)
            var reusing = try IssueRequest(certName: request.certName, csr: CSRInput(bytes: der, source: "the placeholder's key"),
                                           provider: request.provider, deployHook: request.deployHook, profile: request.profile)
            reusing.keyType = request.keyType
            reusing.alsoProviders = request.alsoProviders
            reusing.challenge = request.challenge
            // A placeholder replaces no certificate of the CA's (RFC 9773 §5).
            reusing.replaces = nil
            return reusing
        } catch {
            events(.warning("\(request.certName): cannot reuse the placeholder's key (\(describe(error))); a new key is made"))
            return request
        }
    }

    /// `dns01 issue`: `prepare` under the certificate's lock (released again: `Issuer.issue`
    /// takes it itself), after the same check of the state directory `issue` makes, with
    /// `placeholder` as the [[certificate]] of the same name sets it. Reusing a placeholder's
    /// key needs no [[certificate]]: any issue for a name whose live/ holds one does it.
    /// A placeholder goes to `state` like any version (with fleet storage, the shared database).
    public static func prepareIssue(_ request: IssueRequest, config: Configuration, events: @escaping EventSink,
                                    state: any StateStore) async throws -> IssueRequest {
        guard request.csr == nil else { return request }
        let stateDir = config.acme.stateDir
        try await BlockingPool.shared.run { try Journal(stateDir: stateDir).checkDirectories() }
        let lock = try CertificateLock(stateDir: stateDir, name: request.certName)
        defer { lock.release() }
        let placeholder = config.certificates.first { $0.name == request.certName }?.placeholder ?? false
        return try await CertificateStore(state: state).prepare(request, placeholder: placeholder, events: events)
    }
}

extension KeyType {
    /// The key type of `publicKey`; nil for one dns01 does not make.
    init?(of publicKey: Certificate.PublicKey) {
        if P256.Signing.PublicKey(publicKey) != nil {
            self = .ec256
        } else if P384.Signing.PublicKey(publicKey) != nil {
            self = .ec384
        } else if let rsa = _RSA.Signing.PublicKey(publicKey) {
            switch rsa.keySizeInBits {
            case 2048: self = .rsa2048
            case 3072: self = .rsa3072
            case 4096: self = .rsa4096
            default: return nil
            }
        } else {
            return nil
        }
    }

    var isRSA: Bool { self == .rsa2048 || self == .rsa3072 || self == .rsa4096 }
}
