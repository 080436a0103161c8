/// A problem document (RFC 7807, RFC 8555 §6.7) with its subproblems (§6.7.1).
public struct Problem: Sendable, Codable, CustomStringConvertible, Equatable {
    public struct Kind: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(rawValue)
        }
        public var description: String { rawValue }

        static func acme(_ name: String) -> Kind { Kind(rawValue: "urn:ietf:params:acme:error:" + name) }
        public static let badNonce = acme("badNonce")
        public static let rateLimited = acme("rateLimited")
        public static let unauthorized = acme("unauthorized")
        public static let dns = acme("dns")
        public static let connection = acme("connection")
        public static let incorrectResponse = acme("incorrectResponse")
        public static let malformed = acme("malformed")
        public static let serverInternal = acme("serverInternal")
        public static let userActionRequired = acme("userActionRequired")
        public static let externalAccountRequired = acme("externalAccountRequired")
        public static let accountDoesNotExist = acme("accountDoesNotExist")
        public static let badCSR = acme("badCSR")
        public static let rejectedIdentifier = acme("rejectedIdentifier")
        public static let orderNotReady = acme("orderNotReady")
        public static let badSignatureAlgorithm = acme("badSignatureAlgorithm")
        public static let caa = acme("caa")
        public static let unsupportedIdentifier = acme("unsupportedIdentifier")
        public static let badPublicKey = acme("badPublicKey")
    }

    public var type: Kind
    public var detail: String?
    public var status: Int?
    public var identifier: Identifier?
    public var subproblems: [Problem]?

    public init(type: Kind, detail: String? = nil, status: Int? = nil, identifier: Identifier? = nil, subproblems: [Problem]? = nil) {
        self.type = type
        self.detail = detail
        self.status = status
        self.identifier = identifier
        self.subproblems = subproblems
    }

    enum CodingKeys: String, CodingKey { case type, detail, status, identifier, subproblems }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        // RFC 7807 §4.2: a missing type means "about:blank".
        type = try container.decodeIfPresent(Kind.self, forKey: .type) ?? Kind(rawValue: "about:blank")
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
        status = try? container.decodeIfPresent(Int.self, forKey: .status)
        identifier = try? container.decodeIfPresent(Identifier.self, forKey: .identifier)
        subproblems = try? container.decodeIfPresent([Problem].self, forKey: .subproblems)
    }

    /// "urn:…:dns: detail" followed by each subproblem's identifier, type and detail.
    public var description: String {
        var text = type.rawValue + (detail.map { ": " + $0 } ?? "")
        if let subproblems, !subproblems.isEmpty {
            text += " [" + subproblems.map { sub in
                (sub.identifier.map { $0.value + ": " } ?? "") + sub.type.rawValue + (sub.detail.map { ": " + $0 } ?? "")
            }.joined(separator: "; ") + "]"
        }
        return text
    }
}
