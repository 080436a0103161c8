import Providers
import TOMLKit
import Settings

/// Reads TOML text into format-independent `SettingValue` tables, so the rest of the core and
/// the providers never see TOMLKit's types.
enum TOMLReader {
    static func read(_ text: String, path: String) throws -> [String: SettingValue] {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(path): line \(error.source.begin.line): \(error.description).")
        } catch {
            throw ConfigError("\(path): not valid TOML.")
        }
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
        case .table: return .table(convert(value.table!))
        case .array: return .array(value.array!.map { convert($0) })
        case .string: return .string(value.string!)
        case .int: return .integer(value.int!)
        case .double: return .double(value.double!)
        case .bool: return .bool(value.bool!)
        // Dates and times have no use in dns01's config; they read as their TOML text.
        default: return .string(value.debugDescription)
        }
    }
}
