import FoundationEssentials
import Glibc
import HTTP

/// The CA's directory (RFC 8555 §7.1.1).
public struct Directory: Sendable, Decodable {
    public var newNonce: String
    public var newAccount: String
    public var newOrder: String
    public var revokeCert: String?
    public var keyChange: String?
    public var renewalInfo: String?
    public var meta: Meta?

    public struct Meta: Sendable, Decodable {
        public var termsOfService: String?
        public var website: String?
        public var caaIdentities: [String]?
        public var externalAccountRequired: Bool?
        public var profiles: [String: String]?
    }
}

extension ACMEClient {
    /// RFC 8555 §7.1.1, fetched once (an unsigned GET).
    public func directory() async throws -> Directory {
        if let cachedDirectory { return cachedDirectory }
        let response = try await sender.get(directoryURL)
        guard response.status == 200 else {
            throw ACMEError(.invalidDirectory, "\(directoryURL) answered HTTP \(response.status); it is not an ACME directory.")
        }
        guard let directory = try? JSONDecoder().decode(Directory.self, from: Data(response.body)) else {
            throw ACMEError(.invalidDirectory, "\(directoryURL) is not an ACME directory (no newNonce, newAccount and newOrder URLs).")
        }
        cachedDirectory = directory
        return directory
    }
}
