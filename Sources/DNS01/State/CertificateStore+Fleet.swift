import ACME
import FoundationEssentials
import Glibc
import Storage

extension CertificateStore.Candidate {
    /// A version the fleet's database holds, to be installed by `dns01 sync` for the
    /// [[certificate]] of `names`, asked for while live/ was version `seen`.
    init(_ version: StoredVersion, names: [String], seen: Int?, server: String) {
        let place = "\(version.name) version \(version.version) in PostgreSQL at \(server)"
        self.init(name: version.name, chainPEM: version.chainPEM, keyPEM: version.keyPEM, names: names,
                  source: .fleet(number: version.version, seen: seen),
                  origin: CertificateChain.Origin(phrase: "of \(place)", key: "the private key stored with it",
                                                  names: "the configured names", empty: "The chain of \(place) holds no PEM certificate."))
    }
}
