/// Bad usage of a command (exit 2): the sentence names the bad argument; the code says which
/// kind.
public struct UsageError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Anything not named below.
        public static let usage = Code(rawValue: "usage")
        /// A name (`-d`), certificate name or value that is not usable.
        public static let invalidArgument = Code(rawValue: "invalidArgument")
        /// The command needs something the config does not have.
        public static let notConfigured = Code(rawValue: "notConfigured")
        /// A hook mode was not run by its client (its arguments or environment are missing).
        public static let notFromClient = Code(rawValue: "notFromClient")
    }

    public var code: Code
    public var message: String
    public init(_ message: String, code: Code = .usage) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
