/// One value of a configuration table, independent of the file format it was read from.
public enum SettingValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case bool(Bool)
    case double(Double)
    case array([SettingValue])
    case table([String: SettingValue])

    /// How a value's type reads in an error message.
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .bool: "a boolean"
        case .double: "a number"
        case .array: "an array"
        case .table: "a table"
        }
    }
}
