/// One resource record of a response, in text form.
public struct DNSRecord: Sendable, Hashable, CustomStringConvertible {
    /// Owner name, lowercased, without the trailing dot.
    public var name: String
    /// The type mnemonic: "TXT", "SOA", "NS", "CNAME", "A", "AAAA", …
    public var type: String
    public var ttl: UInt32
    /// TXT: the character-strings concatenated, exactly as written; NS/CNAME: the target name
    /// (canonical); A/AAAA: the address; others: the rdata fields joined by spaces.
    public var data: String

    public init(name: String, type: String, ttl: UInt32, data: String) {
        self.name = name
        self.type = type
        self.ttl = ttl
        self.data = data
    }

    public var description: String { "\(name) \(ttl) \(type) \(data)" }
}

/// A parsed DNS response.
public struct DNSResponse: Sendable {
    /// "NOERROR", "NXDOMAIN", "REFUSED", …
    public var rcode: String
    /// The AA bit.
    public var authoritative: Bool
    public var answer: [DNSRecord]
    public var authority: [DNSRecord]
    public var additional: [DNSRecord]

    public init(rcode: String, authoritative: Bool, answer: [DNSRecord], authority: [DNSRecord], additional: [DNSRecord]) {
        self.rcode = rcode
        self.authoritative = authoritative
        self.answer = answer
        self.authority = authority
        self.additional = additional
    }

    /// The answer records of `type` owned by `name`.
    public func answers(_ type: String, at name: String) -> [DNSRecord] {
        let name = DomainName.canonical(name)
        return answer.filter { $0.type == type && $0.name == name }
    }
}

/// How one query is sent.
public struct QueryOptions: Sendable {
    /// Per attempt.
    public var timeout: Duration
    /// Further attempts after the first when a server does not answer.
    public var retries: Int
    public var recursionDesired: Bool

    public init(timeout: Duration = .seconds(2), retries: Int = 2, recursionDesired: Bool = true) {
        self.timeout = timeout
        self.retries = retries
        self.recursionDesired = recursionDesired
    }
}
