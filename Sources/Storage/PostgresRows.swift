import FoundationEssentials
import Glibc

/// The rows of one query, as text (libpq's text format), with typed readers that throw instead
/// of trapping on a value that is not what the schema promises.
public struct PostgresRows: Sendable {
    public let columns: [String]
    public let rows: [[String?]]
    let serverName: String

    public var count: Int { rows.count }
    public var isEmpty: Bool { rows.isEmpty }

    public func text(_ row: Int, _ column: String) throws -> String? {
        guard rows.indices.contains(row) else { throw unexpected(column, "row \(row) is missing") }
        guard let index = columns.firstIndex(of: column) else { throw unexpected(column, "the column is missing") }
        return rows[row][index]
    }

    public func requiredText(_ row: Int, _ column: String) throws -> String {
        guard let value = try text(row, column) else { throw unexpected(column, "it is NULL") }
        return value
    }

    public func int(_ row: Int, _ column: String) throws -> Int? {
        guard let value = try text(row, column) else { return nil }
        guard let number = Int(value) else { throw unexpected(column, "'\(value.prefix(40))' is not an integer") }
        return number
    }

    public func bool(_ row: Int, _ column: String) throws -> Bool? {
        guard let value = try text(row, column) else { return nil }
        switch value {
        case "t": return true
        case "f": return false
        default: throw unexpected(column, "'\(value.prefix(40))' is not a boolean")
        }
    }

    /// A bytea column in its hex output form ("\x0a1b…").
    public func bytes(_ row: Int, _ column: String) throws -> [UInt8]? {
        guard let value = try text(row, column) else { return nil }
        let digits = value.utf8
        guard digits.starts(with: "\\x".utf8), let bytes = Hex.decode(digits.dropFirst(2)) else {
            throw unexpected(column, "it is not bytea in hex form")
        }
        return bytes
    }

    /// A timestamptz column as the server prints it with `DateStyle = ISO`, read through
    /// `extract(epoch …)` by the queries instead: seconds since 1970 as a number.
    public func epoch(_ row: Int, _ column: String) throws -> Date? {
        guard let value = try text(row, column) else { return nil }
        guard let seconds = Double(value), seconds.isFinite else { throw unexpected(column, "'\(value.prefix(40))' is not a time") }
        return Date(timeIntervalSince1970: seconds)
    }

    private func unexpected(_ column: String, _ reason: String) -> PostgresError {
        PostgresError(.unexpectedData, "PostgreSQL at \(serverName) returned an unusable \(column) (\(reason))")
    }
}
