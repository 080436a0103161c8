import Files
import FoundationEssentials
import Glibc
import Settings

/// A DNS host's credential, read the one way every native provider reads it (STYLE.md 7):
/// from `<key>_file` (a 0600 file) or from the environment variable `<key>_env` names; never
/// from the config itself, never from argv.
enum APISecret {
    /// `key` is the setting's stem ("api_token"); `what` names the secret in sentences ("API
    /// token"); `hint` says what to make, for the sentence when neither key is set; `inlineKeys`
    /// are the keys a user might put the value itself under (`key` when nil).
    static func read(_ settings: Settings, key: String, what: String, hint: String, inlineKeys: [String]? = nil,
                     environment: [String: String]) throws -> String {
        try refuseInline(settings, key: key, what: what, inlineKeys: inlineKeys)
        let file = try settings.string("\(key)_file"), variable = try settings.string("\(key)_env")
        let secret: String
        switch (file, variable) {
        case (let file?, nil):
            secret = try SecretFile.read(file, context: settings.context, what: what)
        case (nil, let variable?):
            var value = Substring(environment[variable] ?? "")
            while value.first?.isWhitespace == true { value.removeFirst() }
            while value.last?.isWhitespace == true { value.removeLast() }
            guard !value.isEmpty else {
                throw ConfigError("\(settings.context): the environment variable \(variable) (\(key)_env) is not set.")
            }
            secret = String(value)
        case (nil, nil):
            throw ConfigError("\(settings.context): set \(key)_file (a 0600 file holding \(hint)) or \(key)_env.")
        case (_?, _?):
            throw ConfigError("\(settings.context): \(key)_file and \(key)_env both name the \(what); keep one.")
        }
        guard secret.allSatisfy({ $0.isASCII && !$0.isWhitespace && !$0.isNewline }) else {
            throw ConfigError("\(settings.context): the \(what) holds characters no such credential has.")
        }
        return secret
    }

    /// A secret written into the config itself is refused (before unknown keys are, so the
    /// sentence says where it goes instead).
    static func refuseInline(_ settings: Settings, key: String, what: String, inlineKeys: [String]? = nil) throws {
        if (inlineKeys ?? [key]).contains(where: settings.has) {
            throw ConfigError("\(settings.context): the \(what) never goes in the config: put it in a 0600 file named by \(key)_file, or an environment variable named by \(key)_env.")
        }
    }

    /// `api_url`-style settings: an http(s) URL without a trailing slash.
    static func baseURL(_ settings: Settings, key: String, default value: String) throws -> String {
        var url = try settings.string(key) ?? value
        while url.hasSuffix("/") { url.removeLast() }
        guard let parsed = URL(string: url), parsed.scheme == "https" || parsed.scheme == "http", parsed.host != nil else {
            throw ConfigError("\(settings.context): \(key) '\(url)' is not an http(s) URL.")
        }
        return url
    }

    /// `ttl` within the host's range; `timeout` above zero (30 s by default).
    static func ttl(_ settings: Settings, default value: Int, range: ClosedRange<Int>, host: String) throws -> UInt32 {
        let ttl = try settings.integer("ttl") ?? value
        guard range.contains(ttl) else {
            throw ConfigError("\(settings.context): ttl \(ttl) is out of \(host)'s range (\(range.lowerBound) to \(range.upperBound) seconds).")
        }
        return UInt32(ttl)
    }

    static func timeout(_ settings: Settings) throws -> Duration {
        let timeout = try settings.duration("timeout") ?? .seconds(30)
        guard timeout > .zero else { throw ConfigError("\(settings.context): timeout must be more than 0s.") }
        return timeout
    }
}
