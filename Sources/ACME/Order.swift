/// An order (RFC 8555 §7.1.3). `url` comes from the Location header, not the body.
public struct Order: Sendable, Decodable {
    public struct Status: RawRepresentable, Hashable, Sendable, Decodable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public var description: String { rawValue }
        public static let pending = Status(rawValue: "pending")
        public static let ready = Status(rawValue: "ready")
        public static let processing = Status(rawValue: "processing")
        public static let valid = Status(rawValue: "valid")
        public static let invalid = Status(rawValue: "invalid")
    }

    public var url: String = ""
    public var status: Status
    public var identifiers: [Identifier]
    public var authorizations: [String]
    public var finalize: String
    public var certificate: String?
    public var expires: String?
    public var error: Problem?

    enum CodingKeys: String, CodingKey { case status, identifiers, authorizations, finalize, certificate, expires, error }
}
