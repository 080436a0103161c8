import Providers
import Settings
import TOMLKit

/// Reads TOML text into format-independent `SettingValue` tables, so the rest of the core and
/// the providers never see TOMLKit's types.
///
/// The text is checked first (`validate`): the bundled toml++ asserts (SIGABRT in debug builds,
/// undefined behaviour under NDEBUG) on some inputs it should reject, such as a non-ASCII
/// character in a bare key (`[dnsé]`), and TOMLKit hands it a C string, which a NUL would cut.
enum TOMLReader {
    /// The largest configuration file read: a dns01.toml is a few kilobytes.
    static let maximumBytes = 1 << 20

    static func read(_ text: String, path: String) throws -> [String: SettingValue] {
        try validate(text, path: path)
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(path): line \(error.source.begin.line): \(error.description).")
        } catch {
            throw ConfigError("\(path): not valid TOML.")
        }
        // TOMLKit 0.6.0's TOMLTable has no deinit: the toml++ tree it parsed would stay in
        // memory for the whole run (about 600 bytes per [[certificate]]). Emptying the root
        // frees every node under it; the empty root and the key lists TOMLKit copied out while
        // converting (it never frees those) are what still leaks.
        defer { table.clear() }
        return convert(table)
    }

    private static func convert(_ table: TOMLTable) -> [String: SettingValue] {
        var result: [String: SettingValue] = [:]
        for key in table.keys {
            if let value = table[key] { result[key] = convert(value) }
        }
        return result
    }

    private static func convert(_ value: any TOMLValueConvertible) -> SettingValue {
        switch value.type {
        case .table: if let table = value.table { return .table(convert(table)) }
        case .array: if let array = value.array { return .array(array.map { convert($0) }) }
        case .string: if let string = value.string { return .string(string) }
        case .int: if let int = value.int { return .integer(int) }
        case .double: if let double = value.double { return .double(double) }
        case .bool: if let bool = value.bool { return .bool(bool) }
        default: break
        }
        // Dates and times have no use in dns01's config; they read as their TOML text.
        return .string(value.debugDescription)
    }
}
