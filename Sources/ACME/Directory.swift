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
