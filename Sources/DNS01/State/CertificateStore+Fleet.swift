import ACME
import Blocking
import Foundation
import Storage

extension CertificateStore {
    /// Writes a version the fleet's database holds into this machine's archive/ under its own
    /// number and makes it live (atomic link flip; privkey.pem 0600), as `dns01 sync` does.
    public func install(_ version: StoredVersion) async throws -> String {
        let blocks = CertificateChain.pemBlocks(version.chainPEM)
        return try await BlockingPool.shared.run {
            try write(name: version.name, version: version.version, key: version.keyPEM, blocks: blocks)
        }
    }
}
