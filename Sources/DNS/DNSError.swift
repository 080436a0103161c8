/// Everything that goes wrong on the DNS side: one sentence naming the server, the name, the key
/// or the file at fault. TSIG secrets never appear in it.
public struct DNSError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidName = Code(rawValue: "invalidName")
        public static let invalidServer = Code(rawValue: "invalidServer")
        public static let timeout = Code(rawValue: "timeout")
        public static let network = Code(rawValue: "network")
        public static let badResponse = Code(rawValue: "badResponse")
        public static let rcode = Code(rawValue: "rcode")
        public static let tsig = Code(rawValue: "tsig")
        public static let keyFile = Code(rawValue: "keyFile")
        public static let zoneNotFound = Code(rawValue: "zoneNotFound")
        public static let cnameLoop = Code(rawValue: "cnameLoop")
        public static let noAddress = Code(rawValue: "noAddress")
        public static let propagationTimeout = Code(rawValue: "propagationTimeout")
        public static let zoneSyntax = Code(rawValue: "zoneSyntax")
    }

    public var code: Code
    public var message: String
    public var server: DNSServer?
    public var name: String?
    /// The response code as text ("REFUSED", "NOTAUTH", …) when a server answered with one.
    public var rcode: String?

    public init(_ code: Code, _ message: String, server: DNSServer? = nil, name: String? = nil, rcode: String? = nil) {
        self.code = code
        self.message = message
        self.server = server
        self.name = name
        self.rcode = rcode
    }

    public var description: String { message }

    /// The message without its final period, to stand inside another sentence.
    public var clause: String {
        message.hasSuffix(".") ? String(message.dropLast()) : message
    }
}
