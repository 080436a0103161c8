import Foundation
@testable import Storage
import Testing

/// Reading values back from PostgreSQL's text format: what the shared database returns is
/// outside input, so a value that is not what the schema promises throws, never traps.
@Suite("PostgreSQL rows")
struct PostgresRowsTests {
    static func rows(_ value: String?) -> PostgresRows {
        PostgresRows(columns: ["value"], rows: [[value]], serverName: "db.example:5432")
    }

    @Test(arguments: [
        ("\\x", [UInt8]()),
        ("\\x00ff", [0x00, 0xFF]),
        ("\\x0a1B2c", [0x0A, 0x1B, 0x2C]),
        ("\\xDEADbeef", [0xDE, 0xAD, 0xBE, 0xEF]),
    ])
    func byteaInHexFormIsDecoded(text: String, bytes: [UInt8]) throws {
        #expect(try Self.rows(text).bytes(0, "value") == bytes)
    }

    @Test func aNullByteaIsNil() throws {
        #expect(try Self.rows(nil).bytes(0, "value") == nil)
    }

    @Test(arguments: [
        "\\x0",            // odd length
        "\\x0a1",          // odd length
        "\\x0g",           // not a hex digit
        "\\xg0",
        "\\x 0",
        "\\x-1",
        "\\x\u{e9}0",      // a two-byte character: odd length in bytes
        "\\x\u{e9}\u{e9}", // two two-byte characters: even length, not hex
        "\\",              // the prefix cut short
        "",
        "0a1b",            // no \x prefix
        "\\001\\002",      // bytea's escape output form
    ])
    func aValueThatIsNotByteaInHexFormThrows(text: String) throws {
        let error = try #require(throws: PostgresError.self) { try Self.rows(text).bytes(0, "value") }
        #expect(error.code == .unexpectedData)
        #expect(error.description.contains("db.example:5432") && error.description.contains("value"), "\(error)")
    }

    @Test func otherTypesThrowOnValuesTheyCannotRead() throws {
        #expect(try Self.rows("42").int(0, "value") == 42)
        #expect(throws: PostgresError.self) { try Self.rows("4 2").int(0, "value") }
        #expect(throws: PostgresError.self) { try Self.rows("99999999999999999999999").int(0, "value") }
        #expect(try Self.rows("t").bool(0, "value") == true)
        #expect(throws: PostgresError.self) { try Self.rows("yes").bool(0, "value") }
        #expect(throws: PostgresError.self) { try Self.rows("nan").epoch(0, "value") }
        #expect(throws: PostgresError.self) { try Self.rows(nil).requiredText(0, "value") }
        #expect(throws: PostgresError.self) { try Self.rows("x").text(1, "value") }
        #expect(throws: PostgresError.self) { try Self.rows("x").text(0, "other") }
    }
}
