/// A request that got no HTTP answer: the host could not be reached, the transfer timed out or
/// was cancelled, or the answer broke a limit. One sentence naming the host (and the service,
/// "the CA", "the Cloudflare API"); never a credential.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let network = Code(rawValue: "network")
        public static let timeout = Code(rawValue: "timeout")
        /// The answer was larger than the transport keeps.
        public static let tooLarge = Code(rawValue: "tooLarge")
        public static let cancelled = Code(rawValue: "cancelled")
        /// A 3xx answer: dns01 follows no redirects (ACME has none; an API's would move a
        /// signed or authenticated request elsewhere).
        public static let redirect = Code(rawValue: "redirect")
    }

    public var code: Code
    public var message: String
    /// "host:port" of the peer.
    public var host: String

    public init(_ code: Code, _ message: String, host: String) {
        self.code = code
        self.message = message
        self.host = host
    }

    public var description: String { message }
}
