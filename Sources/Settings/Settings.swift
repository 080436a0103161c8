import FoundationEssentials
import FoundationShim

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

    /// A duration: "300s", "2s", "250ms", "5m", "1h", "1d", or an integer number of seconds; at
    /// most `maximumDuration`.
    public func duration(_ key: String) throws -> Duration? {
        guard let value = values[key] else { return nil }
        let milliseconds: Double
        switch value {
        case .integer(let seconds):
            milliseconds = Double(seconds) * 1000
        case .string(let text):
            guard let parsed = Settings.durationMilliseconds(text) else {
                throw ConfigError("\(context): key '\(key)' is not a duration: '\(text)' (use e.g. \"300s\", \"250ms\", \"5m\").")
            }
            milliseconds = parsed
        default:
            throw mistyped(key, value, "a duration such as \"300s\"")
        }
        guard milliseconds >= 0 else { throw ConfigError("\(context): key '\(key)' must not be negative.") }
        guard let duration = Settings.boundedDuration(milliseconds: milliseconds) else {
            throw ConfigError("\(context): key '\(key)' is longer than the longest duration dns01 accepts (\(Settings.maximumDurationDays)d).")
        }
        return duration
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

    /// The longest duration any setting accepts: 365 days. No timeout, interval or renewal
    /// window dns01 has needs more, and the bound keeps every conversion in range.
    public static let maximumDurationDays = 365
    public static let maximumDuration = Duration.seconds(maximumDurationDays * 86_400)

    /// Parses "300s", "1.5s", "250ms", "5m", "1h", "1d" or a bare number of seconds (digits with
    /// an optional fraction: no sign, exponent, hex, "nan" or "inf"); nil when malformed, negative
    /// or longer than `maximumDuration`.
    public static func parseDuration(_ text: String) -> Duration? {
        durationMilliseconds(text).flatMap { boundedDuration(milliseconds: $0) }
    }

    /// The milliseconds a well-formed duration text stands for (possibly huge), or nil.
    static func durationMilliseconds(_ text: String) -> Double? {
        let trimmed = text.trimmingWhitespace()
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        var number = Substring(trimmed), scale = 1000.0
        // "ms" before "m" and "s", so "5ms" is not read as "5m" + "s".
        if let (suffix, unitScale) = units.first(where: { trimmed.hasSuffix($0.0) }) {
            number = number.dropLast(suffix.count)
            scale = unitScale
        }
        let parts = number.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy({ ("0"..."9").contains($0) }),
              parts.count == 1 || (!parts[1].isEmpty && parts[1].allSatisfy({ ("0"..."9").contains($0) }))
        else { return nil }
        // Well-formed digits that no Double holds are a very long duration.
        guard let amount = Double(number), amount.isFinite else { return .infinity }
        let milliseconds = amount * scale
        return milliseconds.isFinite ? milliseconds : .infinity
    }

    /// A duration of `milliseconds` (rounded), or nil when negative, not finite or above the ceiling.
    static func boundedDuration(milliseconds: Double) -> Duration? {
        let ceiling = Double(maximumDurationDays) * 86_400_000
        guard milliseconds.isFinite, milliseconds >= 0, milliseconds <= ceiling else { return nil }
        return .milliseconds(Int64(milliseconds.rounded()))
    }
}
