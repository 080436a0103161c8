/// A challenge (RFC 8555 §7.1.5, §8).
public struct Challenge: Sendable, Decodable, Hashable {
    public var type: String
    public var url: String
    public var token: String?
    public var status: String
    public var error: Problem?
    public var validated: String?

    public static func == (lhs: Challenge, rhs: Challenge) -> Bool { lhs.url == rhs.url && lhs.status == rhs.status }
    public func hash(into hasher: inout Hasher) { hasher.combine(url) }
}
