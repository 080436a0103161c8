/// An error raised by a provider while writing records. STYLE.md 3: a struct with an open code,
/// whose message names the provider, the zone and what failed.
public struct ProviderError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let present = Code(rawValue: "present")
        public static let cleanup = Code(rawValue: "cleanup")
    }

    public var code: Code
    public var provider: String
    public var message: String
    /// The error the provider's backend raised, when there is one (a `DNSError` for rfc2136).
    public var underlying: (any Error & Sendable)?
    /// True when the provider knows that nothing was written (the server refused the whole
    /// change), so there is nothing to clean up: the journal drops such records at once.
    public var wroteNothing: Bool

    public init(code: Code, provider: String, message: String, underlying: (any Error & Sendable)? = nil, wroteNothing: Bool = false) {
        self.code = code
        self.provider = provider
        self.message = message
        self.underlying = underlying
        self.wroteNothing = wroteNothing
    }

    public var description: String { message }
}
