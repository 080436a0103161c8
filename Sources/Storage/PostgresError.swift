/// A PostgreSQL failure: the server cannot be reached, the connection went away mid-run, a
/// query was refused (with its SQLSTATE), or a value read back is not what the schema promises.
/// The message names the server (host and port), never the connection string or its password.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let name: String
        public static let connectionFailed = Code(name: "connectionFailed")
        public static let connectionLost = Code(name: "connectionLost")
        public static let queryFailed = Code(name: "queryFailed")
        public static let unexpectedData = Code(name: "unexpectedData")
        public static let schemaTooNew = Code(name: "schemaTooNew")
        public static let sealing = Code(name: "sealing")
    }

    public var code: Code
    public var message: String
    /// The server's SQLSTATE ("42P01": no such table), when it sent one.
    public var sqlState: String?

    public init(_ code: Code, _ message: String, sqlState: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String {
        let text = message.prefix(1).uppercased() + message.dropFirst()
        return text.hasSuffix(".") || text.hasSuffix("?") ? text : text + "."
    }
}
