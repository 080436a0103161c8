/// An account object (RFC 8555 §7.1.2).
public struct Account: Sendable, Decodable {
    public var status: String
    public var contact: [String]?
    public var orders: String?
}
