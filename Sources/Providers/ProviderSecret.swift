import Files
import FoundationEssentials
import FoundationShim
import Glibc
import Settings

/// A provider's credential, from `<key>_file` (a 0600 file, `SecretFile`) or from the
/// environment variable `<key>_env` names; never from the config itself, and never both.
/// Errors name the setting, the file or the variable, never the value.
enum ProviderSecret {
    /// `what` names the credential in sentences ("API token"); `hint` says what the file holds
    /// ("a 0600 file holding a Cloudflare API token with Zone.DNS edit"); `inlineKeys` are the
    /// keys a user might put the value itself under, refused with a sentence of their own.
    static func read(_ settings: Settings, key: String, what: String, hint: String, inlineKeys: [String],
                     environment: [String: String]) throws -> String {
        try refuseInline(settings, key: key, what: what, inlineKeys: inlineKeys)
        let fileKey = "\(key)_file", envKey = "\(key)_env"
        let value: String
        switch (try settings.string(fileKey), try settings.string(envKey)) {
        case (let file?, nil):
            value = try SecretFile.read(file, context: settings.context, what: what)
        case (nil, let variable?):
            guard let raw = environment[variable] else {
                throw ConfigError("\(settings.context): the environment variable \(variable) (\(envKey)) is not set.")
            }
            value = String(raw.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            guard !value.isEmpty else { throw ConfigError("\(settings.context): the environment variable \(variable) (\(envKey)) is not set.") }
        case (nil, nil):
            throw ConfigError("\(settings.context): set \(fileKey) (\(hint)) or \(envKey).")
        case (_?, _?):
            throw ConfigError("\(settings.context): \(fileKey) and \(envKey) both name the \(what); keep one.")
        }
        return value
    }

    /// The value itself under one of `inlineKeys` is refused with a sentence saying where it
    /// goes instead; called before a provider rejects unknown keys, so that is what the user reads.
    static func refuseInline(_ settings: Settings, key: String, what: String, inlineKeys: [String]) throws {
        if inlineKeys.contains(where: settings.has) {
            throw ConfigError("\(settings.context): the \(what) never goes in the config: put it in a 0600 file named by \(key)_file, or an environment variable named by \(key)_env.")
        }
    }
}
