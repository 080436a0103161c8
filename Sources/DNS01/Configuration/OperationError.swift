/// An operation that failed (exit 1): the sentence names what is at fault; the code says what
/// kind of failure it is, for callers that act on it (STYLE.md 3: a struct with an open code).
public struct OperationError: Error, Sendable, CustomStringConvertible {
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Anything not named below.
        public static let failed = Code(rawValue: "failed")
        /// Another dns01 process (or machine) holds the certificate's lock.
        public static let locked = Code(rawValue: "locked")
        /// Certificates of a run failed, backed off or gave up.
        public static let certificatesFailed = Code(rawValue: "certificatesFailed")
        /// The fleet's database went away during the run.
        public static let storageLost = Code(rawValue: "storageLost")
        /// What the CA, a file or the database holds is not what dns01 can accept.
        public static let badState = Code(rawValue: "badState")
    }

    public var code: Code
    public var message: String
    public init(_ message: String, code: Code = .failed) {
        self.code = code
        self.message = message
    }
    public var description: String { message }
}
