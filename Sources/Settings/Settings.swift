/// A table of configuration settings with typed accessors whose errors name where the key is
/// ("[[provider]] 'bind': key 'server' must be a string, not an integer").
///
/// Providers validate their own settings from this in their `Config` initializers (STYLE.md 7);
/// the core reads its sections through it too.
public struct Settings: Sendable {
    /// Where these settings come from, for messages: "[acme]", "[[provider]] 'bind'".
    public let context: String
    public let values: [String: SettingValue]

    public init(context: String, values: [String: SettingValue]) {
        self.context = context
        self.values = values
    }

    public func has(_ key: String) -> Bool { values[key] != nil }

    public func string(_ key: String) throws -> String? {
        guard let value = values[key] else { return nil }
        guard case .string(let text) = value else { throw mistyped(key, value, "a string") }
        return text
    }

    public func requiredString(_ key: String) throws -> String {
        guard let text = try string(key) else { throw missing(key) }
        guard !text.isEmpty else { throw ConfigError("\(context): key '\(key)' must not be empty.") }
        return text
    }

    public func bool(_ key: String) throws -> Bool? {
        guard let value = values[key] else { return nil }
        guard case .bool(let flag) = value else { throw mistyped(key, value, "a boolean") }
        return flag
    }

    public func integer(_ key: String) throws -> Int? {
        guard let value = values[key] else { return nil }
        guard case .integer(let number) = value else { throw mistyped(key, value, "an integer") }
        return number
    }

    public func strings(_ key: String) throws -> [String]? {
        guard let value = values[key] else { return nil }
        guard case .array(let items) = value else { throw mistyped(key, value, "an array of strings") }
        return try items.map { item in
            guard case .string(let text) = item else { throw mistyped(key, item, "an array of strings") }
            return text
        }
    }

    /// A table of string values (e.g. a provider's `env`).
    public func stringTable(_ key: String) throws -> [String: String]? {
        guard let value = values[key] else { return nil }
        guard case .table(let table) = value else { throw mistyped(key, value, "a table of strings") }
        return try table.mapValues { item in
            guard case .string(let text) = item else { throw mistyped(key, item, "a table of strings") }
            return text
        }
    }

    /// A duration: "300s", "2s", "250ms", "5m", "1h", "1d", or an integer number of seconds.
    public func duration(_ key: String) throws -> Duration? {
        guard let value = values[key] else { return nil }
        switch value {
        case .integer(let seconds) where seconds >= 0:
            return .seconds(seconds)
        case .string(let text):
            guard let parsed = Settings.parseDuration(text) else {
                throw ConfigError("\(context): key '\(key)' is not a duration: '\(text)' (use e.g. \"300s\", \"250ms\", \"5m\").")
            }
            return parsed
        default:
            throw mistyped(key, value, "a duration such as \"300s\"")
        }
    }

    /// Rejects keys this section does not know, so a typo does not pass silently.
    public func rejectUnknownKeys(allowed: Set<String>) throws {
        if let unknown = values.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ConfigError("\(context): unknown key '\(unknown)' (known keys: \(allowed.sorted().joined(separator: ", "))).")
        }
    }

    public func missing(_ key: String) -> ConfigError {
        ConfigError("\(context): key '\(key)' is required.")
    }

    private func mistyped(_ key: String, _ value: SettingValue, _ expected: String) -> ConfigError {
        ConfigError("\(context): key '\(key)' must be \(expected), not \(value.typeName).")
    }

    /// Parses "300s", "1.5s", "250ms", "5m", "1h", "1d" or a bare number of seconds.
    public static func parseDuration(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "5ms" must not match "s" with number "5m".
            guard let amount = Double(number), amount >= 0, amount.isFinite else { continue }
            return .milliseconds(Int64((amount * scale * 1000).rounded()))
        }
        if let seconds = Double(trimmed), seconds >= 0, seconds.isFinite {
            return .milliseconds(Int64((seconds * 1000).rounded()))
        }
        return nil
    }
}

import Foundation
