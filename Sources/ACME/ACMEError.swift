/// Everything that goes wrong talking to the CA: one sentence naming the CA host, the request
/// and, for problem documents, their type and detail.
public struct ACMEError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let network = Code(rawValue: "network")
        public static let badResponse = Code(rawValue: "badResponse")
        /// The CA answered with a problem document (RFC 8555 §6.7).
        public static let problem = Code(rawValue: "problem")
        public static let invalidDirectory = Code(rawValue: "invalidDirectory")
        /// An authorization became invalid: the CA could not validate a challenge.
        public static let invalidChallenge = Code(rawValue: "invalidChallenge")
        public static let invalidOrder = Code(rawValue: "invalidOrder")
        public static let timeout = Code(rawValue: "timeout")
        public static let invalidKey = Code(rawValue: "invalidKey")
        public static let csr = Code(rawValue: "csr")
        /// The CA lacks what was asked (key change, revocation, a profile).
        public static let unsupported = Code(rawValue: "unsupported")
        public static let externalAccountRequired = Code(rawValue: "externalAccountRequired")
        /// A response over CurlTransport's size limits.
        public static let responseTooLarge = Code(rawValue: "responseTooLarge")
        /// The certificate chain the CA sent is unfit to store (unparsable, another key, other
        /// names, a broken signature chain).
        public static let invalidCertificate = Code(rawValue: "invalidCertificate")
    }

    public var code: Code
    public var message: String
    public var problem: Problem?
    /// When the CA asked to come back later (Retry-After on 503 / rateLimited).
    public var retryAfter: Duration?

    public init(_ code: Code, _ message: String, problem: Problem? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.problem = problem
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
