internal import CPQ
import FoundationEssentials
import Glibc
import Synchronization

/// One libpq connection (a PostgreSQL session). Session-level advisory locks live as long as it:
/// when the process dies, the server sees the socket close and releases them.
///
/// Every call blocks (network round trips): callers run it on the `BlockingPool`, never on the
/// cooperative pool. Calls are serialized by a mutex, since a libpq connection serves one query
/// at a time. Parameters are sent apart from the SQL text (`PQexecParams`), never spliced in.
///
/// The connection string (a `postgresql://` URL or `key=value` pairs, libpq's own syntax) may
/// hold a password: it is never kept, logged or put in an error.
public final class PostgresConnection: @unchecked Sendable {
    /// A value sent as a query parameter.
    public enum Value: Sendable, Equatable {
        case text(String)
        case int(Int64)
        case bytes([UInt8])
        case null
    }

    private let lock = Mutex(())
    private var connection: OpaquePointer?
    /// Queries sent so far (`dns01 sync`'s figure: one when nothing changed).
    private let sent = Atomic<Int>(0)
    /// "127.0.0.1:5432": where the server is, for messages.
    public let serverName: String

    /// Result rows are bounded: the database is shared with other machines, so what it returns
    /// is outside input too.
    public static let maximumRows = 100_000

    /// Connects. `connectionString` is libpq's (URL or key=value); `applicationName` shows in
    /// `pg_stat_activity`, which is how a lock's holder is named to another machine.
    public init(connectionString: String, applicationName: String, connectTimeout: Int = 10) throws {
        // libpq's own parse errors quote pieces of the string, which may be the password: the
        // string is checked first and a fault is told without them.
        var parseError: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &parseError) else {
            if let parseError { PQfreemem(parseError) }
            throw PostgresError(.connectionFailed, "the PostgreSQL connection string is neither a postgresql:// URL nor libpq key=value pairs")
        }
        PQconninfoFree(options)
        let keywords = ["dbname", "application_name", "connect_timeout", "client_encoding"]
        let values = [connectionString, applicationName, String(connectTimeout), "UTF8"]
        let connection = Self.withCStrings(keywords) { keywordPointers in
            Self.withCStrings(values) { valuePointers in
                // expand_dbname = 1: the first value may be a URL or a key=value string, and the
                // keywords after it override what it says about the same things.
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else { throw PostgresError(.connectionFailed, "cannot connect to PostgreSQL: libpq is out of memory") }
        let host = PQhost(connection).map { String(cString: $0) } ?? "?"
        let port = PQport(connection).map { String(cString: $0) } ?? "?"
        serverName = host.hasPrefix("/") ? "\(host) (socket, port \(port))" : "\(host):\(port)"
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = Self.message(PQerrorMessage(connection))
            PQfinish(connection)
            throw PostgresError(.connectionFailed, "cannot connect to PostgreSQL at \(serverName): \(reason)")
        }
        dns01_pq_silence_notices(connection)
        self.connection = connection
    }

    deinit { close() }

    /// Ends the session (its advisory locks go with it).
    public func close() {
        lock.withLock { _ in
            if let connection { PQfinish(connection) }
            connection = nil
        }
    }

    public var queryCount: Int { sent.load(ordering: .relaxed) }

    /// Runs one statement with `parameters` as $1, $2, …; returns its rows (text format).
    @discardableResult
    public func query(_ sql: String, _ parameters: [Value] = []) throws -> PostgresRows {
        try lock.withLock { _ in try queryHoldingLock(sql, parameters) }
    }

    private func queryHoldingLock(_ sql: String, _ parameters: [Value]) throws -> PostgresRows {
        guard let connection else { throw PostgresError(.connectionLost, "the connection to PostgreSQL at \(serverName) is closed") }
        sent.add(1, ordering: .relaxed)
        let texts: [String?] = parameters.map { value in
            switch value {
            case .text(let text): text
            case .int(let number): String(number)
            // bytea's hex input form; binary-safe through the text protocol.
            case .bytes(let bytes): "\\x" + Hex.encode(bytes)
            case .null: nil
            }
        }
        let result = Self.withOptionalCStrings(texts) { pointers in
            PQexecParams(connection, sql, Int32(pointers.count), nil, pointers, nil, nil, 0)
        }
        guard let result else {
            // No result at all: libpq could not send the query, usually because the session
            // ended earlier (the server restarted) and libpq does not reconnect.
            let reason = Self.message(PQerrorMessage(connection))
            guard PQstatus(connection) == CONNECTION_OK else {
                throw PostgresError(.connectionLost, "lost the connection to PostgreSQL at \(serverName) (\(reason))")
            }
            throw PostgresError(.queryFailed, "PostgreSQL at \(serverName) did not answer: \(reason)")
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK else {
            let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
            let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))).map { String(cString: $0) }
            let lost = PQstatus(connection) != CONNECTION_OK
            let reason = primary ?? Self.message(PQerrorMessage(connection))
            throw PostgresError(lost ? .connectionLost : .queryFailed,
                                lost ? "lost the connection to PostgreSQL at \(serverName) (\(reason))" : "PostgreSQL at \(serverName) refused a query: \(reason)",
                                sqlState: state)
        }
        let rowCount = Int(PQntuples(result)), columnCount = Int(PQnfields(result))
        guard rowCount <= Self.maximumRows else {
            throw PostgresError(.queryFailed, "PostgreSQL at \(serverName) returned \(rowCount) rows, more than the \(Self.maximumRows) dns01 reads")
        }
        var columns: [String] = []
        for column in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(column)))) }
        var rows: [[String?]] = []
        rows.reserveCapacity(rowCount)
        for row in 0..<rowCount {
            var values: [String?] = []
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) != 0 {
                    values.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                    let pointer = PQgetvalue(result, Int32(row), Int32(column))
                    let bytes = pointer.map { UnsafeRawBufferPointer(start: $0, count: length) } ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    values.append(String(decoding: bytes, as: UTF8.self))
                }
            }
            rows.append(values)
        }
        return PostgresRows(columns: columns, rows: rows, serverName: serverName)
    }

    /// Runs `body` in a transaction: BEGIN, then COMMIT when it returns, ROLLBACK when it throws.
    /// A connection lost before COMMIT's answer leaves nothing of the transaction behind.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try query("BEGIN")
        do {
            let value = try body()
            try query("COMMIT")
            return value
        } catch {
            _ = try? query("ROLLBACK")
            throw error
        }
    }

    // MARK: - C strings

    private static func message(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "no reason given" }
        // libpq's messages may span lines and carry tabs ("…failed: FATAL:  password
        // authentication failed…"): one line, single spaces, no final period.
        let lines = String(cString: pointer).split(whereSeparator: \.isNewline)
            .map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }.filter { !$0.isEmpty }
        let text = lines.joined(separator: "; ")
        return text.isEmpty ? "no reason given" : (text.hasSuffix(".") ? String(text.dropLast()) : text)
    }

    private static func withCStrings<T>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> T) -> T {
        withOptionalCStrings(strings) { pointers in body(pointers + [nil]) }
    }

    private static func withOptionalCStrings<T>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> T) -> T {
        let copies: [UnsafeMutablePointer<CChar>?] = strings.map { $0.flatMap { strdup($0) } }
        defer { for pointer in copies { free(pointer) } }
        return body(copies.map { UnsafePointer($0) })
    }
}
