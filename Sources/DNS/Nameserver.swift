/// One address of one authoritative nameserver.
public struct Nameserver: Sendable, Hashable, CustomStringConvertible, Codable {
    /// The NS name ("ns1.example.test"), or the address text for configured overrides.
    public var name: String
    public var address: DNSServer

    public init(name: String, address: DNSServer) {
        self.name = name
        self.address = address
    }

    public var description: String {
        name == address.description || name == address.host ? address.description : "\(name) (\(address))"
    }
}
