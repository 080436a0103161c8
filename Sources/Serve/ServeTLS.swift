import Blocking
import Files
import FoundationEssentials
import FoundationShim
import NIOCore
import NIOSSL
import Settings
import Synchronization

/// `[serve] tls_certificate` and `tls_key`: the certificate chain and private key `dns01 serve`
/// answers HTTPS with. Read at start (a bad file is a ConfigError naming it) and again by
/// `reload()` on SIGHUP, after a renewal replaced the files. Every handshake takes the pair
/// current when it starts (swift-nio-ssl's per-handshake context callback), so new connections
/// get a renewed certificate without a restart and connections already open keep theirs.
/// TLS 1.2 and 1.3 only, swift-nio-ssl's default cipher suites.
public final class ServeTLS: Sendable {
    /// One certificate chain with its key, both read and checked against each other.
    public struct Identity: Sendable {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        /// The leaf's serial number in hex, as `openssl x509 -serial` prints it.
        public let serial: String
    }

    public let certificatePath: String
    public let keyPath: String
    private let current: Mutex<Identity>

    /// Reads and checks both files; a ConfigError naming the file otherwise.
    public init(certificate: String, key: String) throws {
        certificatePath = certificate
        keyPath = key
        current = Mutex(try Self.load(certificate: certificate, key: key))
    }

    /// The pair new handshakes use.
    public var identity: Identity { current.withLock { $0 } }

    /// Reads both files again (off the cooperative pool); on success new handshakes use them.
    /// On failure the pair in use stays and the error (a ConfigError naming the file) is thrown.
    @discardableResult
    public func reload() async throws -> Identity {
        let (certificate, key) = (certificatePath, keyPath)
        let identity = try await BlockingPool.shared.run { try Self.load(certificate: certificate, key: key) }
        current.withLock { $0 = identity }
        return identity
    }

    /// The server's TLS configuration: the pair read at start as the context's own, replaced in
    /// every handshake by the current one.
    public var configuration: TLSConfiguration {
        let identity = self.identity
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: identity.chain.map { .certificate($0) },
                                                                     privateKey: .privateKey(identity.key))
        configuration.minimumTLSVersion = .tlsv12
        configuration.sslContextCallback = { [self] _, promise in
            let identity = self.identity
            var override = NIOSSLContextConfigurationOverride()
            override.certificateChain = identity.chain.map { .certificate($0) }
            override.privateKey = .privateKey(identity.key)
            promise.succeed(override)
        }
        return configuration
    }

    /// Both files read (bounded), parsed and matched. The key file must be private (0600, as
    /// every secret dns01 reads); its content never appears in an error.
    static func load(certificate: String, key: String) throws -> Identity {
        let chainBytes: [UInt8]
        do {
            chainBytes = try FileSystem.readBytes(certificate, limit: .pem)
        } catch {
            throw ConfigError("[serve]: the tls_certificate file \(certificate) cannot be read (\(reason(error))).")
        }
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(chainBytes), let leaf = chain.first else {
            throw ConfigError("[serve]: the tls_certificate file \(certificate) is not a PEM certificate chain.")
        }
        try SecretFile.checkMode(key, context: "[serve]", what: "tls_key")
        let keyBytes: [UInt8]
        do {
            keyBytes = try FileSystem.readBytes(key, limit: .pem)
        } catch {
            throw ConfigError("[serve]: the tls_key file \(key) cannot be read (\(reason(error))).")
        }
        // An encrypted key would make BoringSSL ask for a passphrase on the terminal: refuse it.
        let privateKey: NIOSSLPrivateKey
        do {
            privateKey = try NIOSSLPrivateKey(bytes: keyBytes, format: .pem) { (_: NIOSSLPassphraseSetter<[UInt8]>) in
                throw ConfigError("[serve]: the tls_key file \(key) is encrypted: dns01 serve needs it unencrypted (mode 0600).")
            }
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError("[serve]: the tls_key file \(key) is not a PEM private key.")
        }
        // BoringSSL refuses a key whose public half is not the leaf certificate's.
        do {
            _ = try NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: chain.map { .certificate($0) },
                                                                          privateKey: .privateKey(privateKey)))
        } catch {
            throw ConfigError("[serve]: the tls_key file \(key) is not the private key of the certificate in \(certificate).")
        }
        let serial = leaf.serialNumber.map { Int($0).zeroPadded(2, radix: 16, uppercase: true) }.joined()
        return Identity(chain: chain, key: privateKey, serial: serial)
    }

    private static func reason(_ error: any Error) -> String {
        (error as? FileSystemError)?.reason ?? "\(error)"
    }
}
