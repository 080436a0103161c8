/// One TXT value at one name, as an UPDATE adds or deletes it.
public struct TXTRecord: Sendable, Hashable, Codable, CustomStringConvertible {
    public var name: String
    public var value: String
    public var ttl: UInt32

    public init(name: String, value: String, ttl: UInt32 = 60) {
        self.name = DomainName.canonical(name)
        self.value = value
        self.ttl = ttl
    }

    public var description: String { "\(name) TXT \"\(value)\"" }
}
