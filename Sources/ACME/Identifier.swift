/// An ACME identifier (RFC 8555 §7.1.3, §9.7.7).
public struct Identifier: Sendable, Codable, Hashable {
    public var type: String
    public var value: String

    public init(type: String, value: String) {
        self.type = type
        self.value = value
    }

    public static func dns(_ value: String) -> Identifier { Identifier(type: "dns", value: value) }
}
