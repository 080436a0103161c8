import ACME
import Blocking
import FoundationEssentials
import Glibc
import X509

/// DESIGN.md's `StateStore.install(version)`: validate chain/key/names ──► write ──► flip
/// live ──► deploy hook, the one path by which a version becomes live on this machine, whatever
/// its source: the CA (`IssuanceCoordinator.finalizeAndStore`), a placeholder
/// (`writePlaceholderIfMissing`), or the fleet's database (`FleetSync`). `dns01 storage
/// import`, which makes versions live in the database rather than here, checks each with the
/// same `validate` before it stores anything.
extension CertificateStore {
    /// A version to be made live, and what it must be.
    public struct Candidate: Sendable {
        public enum Source: Sendable {
            /// A new version (from the CA, or a placeholder): with fleet storage, stored in the
            /// database as its next version first.
            case new
            /// The fleet database's version `number` (`dns01 sync`), asked for while live/ was
            /// version `seen` (nil: none).
            case fleet(number: Int, seen: Int?)
        }

        public var name: String
        /// Leaf first.
        public var chainPEM: String
        /// The private key to go with it; nil for a certificate from a CSR.
        public var keyPEM: String?
        /// The names the leaf must be for: the order's, or the [[certificate]]'s.
        public var names: [String]
        /// The key the leaf must hold when `keyPEM` is nil: the CSR's (nil: none to check, a
        /// fleet version of the user's own CSR).
        public var requestKey: Certificate.PublicKey?
        public var source: Source
        /// Where the chain comes from, as the check's sentences name it.
        public var origin: CertificateChain.Origin

        public init(name: String, chainPEM: String, keyPEM: String?, names: [String], requestKey: Certificate.PublicKey? = nil,
                    source: Source, origin: CertificateChain.Origin) {
            self.name = name
            self.chainPEM = chainPEM
            self.keyPEM = keyPEM
            self.names = names
            self.requestKey = requestKey
            self.source = source
            self.origin = origin
        }
    }

    /// What `install` did.
    public struct Installed: Sendable {
        public var live: String
        /// The fleet's version number (nil with directory storage).
        public var version: Int?
        public var notAfter: Date
        /// False when this call left live/ as it was: another dns01 process of this machine
        /// made the version live first (and ran its deploy hook), or moved live/ on since the
        /// database was asked. Nothing was written and no hook ran.
        public var changed: Bool
        /// The deploy hook's failure (the version is live all the same).
        public var deployHookError: String?
    }

    /// Checks `candidate` as the issuance path checks the CA's chain
    /// (`CertificateChain.validate`): every block a certificate, the leaf holding the key that
    /// goes with it (`keyPEM`'s, else `requestKey`), for exactly `names`, not expired at `now`,
    /// each certificate signed by the next. A self-signed certificate (dns01's placeholder) is
    /// "signed in order" when it is the only certificate and its signature verifies with its
    /// own key. Returns the leaf; throws one sentence naming the fault and the origin.
    public static func validate(_ candidate: Candidate, now: Date = Date()) throws -> Certificate {
        var publicKey = candidate.requestKey
        if let keyPEM = candidate.keyPEM {
            guard let key = try? Certificate.PrivateKey(pemEncoded: keyPEM) else {
                throw OperationError("The private key that goes with the certificate \(candidate.origin.phrase) is not a private key dns01 can read.")
            }
            publicKey = key.publicKey
        }
        let certificates = try CertificateChain(pem: candidate.chainPEM)
            .validate(publicKey: publicKey, names: candidate.names, origin: candidate.origin, now: now)
        guard let leaf = certificates.first else { throw OperationError(candidate.origin.empty) }
        return leaf
    }

    /// Validates `candidate`, writes it and makes it live (`storeNow`), then runs `deployHook`
    /// when this call moved live/: one version, one deploy hook run, per machine, even when a
    /// `dns01 sync` and a `dns01 run` install the same version at the same moment. A candidate
    /// that fails the check throws before anything is written, here or in the database.
    /// `announce` gives the step said once the version is live, before its hook runs.
    func install(_ candidate: Candidate, deployHook: DeployHook? = nil, events: @escaping EventSink,
                        announce: (@Sendable (Installed) -> String)? = nil) async throws -> Installed {
        let written = try await BlockingPool.shared.run {
            let leaf = try Self.validate(candidate)
            let stored = try self.storeNow(name: candidate.name, privateKeyPEM: candidate.keyPEM, chainPEM: candidate.chainPEM,
                                           source: candidate.source)
            return (stored, leaf.notValidAfter)
        }
        var installed = Installed(live: written.0.live, version: written.0.version, notAfter: written.1, changed: written.0.changed)
        if installed.changed, let announce { events(.step(announce(installed))) }
        if installed.changed, let deployHook {
            installed.deployHookError = await deployHook.run(certName: candidate.name, live: installed.live,
                                                             domains: candidate.names, events: events)
        }
        return installed
    }
}
