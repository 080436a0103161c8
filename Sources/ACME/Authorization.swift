/// An authorization (RFC 8555 §7.1.4). `url` is where it was fetched from.
public struct Authorization: Sendable, Decodable {
    public struct Status: RawRepresentable, Hashable, Sendable, Decodable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public var description: String { rawValue }
        public static let pending = Status(rawValue: "pending")
        public static let valid = Status(rawValue: "valid")
        public static let invalid = Status(rawValue: "invalid")
        public static let deactivated = Status(rawValue: "deactivated")
        public static let expired = Status(rawValue: "expired")
        public static let revoked = Status(rawValue: "revoked")
    }

    public var url: String = ""
    public var status: Status
    public var identifier: Identifier
    public var challenges: [Challenge]
    public var wildcard: Bool?
    public var expires: String?

    enum CodingKeys: String, CodingKey { case status, identifier, challenges, wildcard, expires }
}
