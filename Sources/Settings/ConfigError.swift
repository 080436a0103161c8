/// A fault in the configuration: a missing or mistyped key, an unreadable key file, an unknown
/// provider type. The CLI exits 2 on it. The message names the file, the section and the key.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
