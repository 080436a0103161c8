/// Which of dns01's own environment variables a child process does not inherit (DESIGN.md:
/// "child processes get a minimal explicit environment"). dns01 reads credentials from its
/// environment (`api_token_env`'s variable, the AWS keys, libpq's `PG*`, lexicon's `LEXICON_*`):
/// those are withheld from every child but the one provider that uses them, while the rest of the
/// environment passes on, as hooks expect (certbot hands its hooks its whole environment).
///
/// The policy is computed once from the config (`Configuration.childEnvironment`); a provider that
/// needs some of the withheld variables gets a copy `allowing` them.
public struct ChildEnvironment: Sendable, Equatable {
    /// Variables withheld by exact name.
    public var withheldNames: Set<String>
    /// Variables withheld by prefix ("PG", "LEXICON_").
    public var withheldPrefixes: Set<String>
    /// Exceptions: variables that pass although a name or prefix above withholds them.
    public var allowedNames: Set<String>
    public var allowedPrefixes: Set<String>

    public init(withholding names: Set<String> = [], prefixes: Set<String> = [],
                allowing allowedNames: Set<String> = [], allowedPrefixes: Set<String> = []) {
        withheldNames = names
        withheldPrefixes = prefixes
        self.allowedNames = allowedNames
        self.allowedPrefixes = allowedPrefixes
    }

    /// Withholds nothing: for tests and programs run with no config.
    public static let inheritAll = ChildEnvironment()

    /// The same policy, letting `names` and the variables starting with `prefixes` through.
    public func allowing(names: Set<String> = [], prefixes: Set<String> = []) -> ChildEnvironment {
        var copy = self
        copy.allowedNames.formUnion(names)
        copy.allowedPrefixes.formUnion(prefixes)
        return copy
    }

    /// Whether a child does not get `name` from dns01's environment.
    public func withholds(_ name: String) -> Bool {
        guard withheldNames.contains(name) || withheldPrefixes.contains(where: { name.hasPrefix($0) }) else { return false }
        return !(allowedNames.contains(name) || allowedPrefixes.contains(where: { name.hasPrefix($0) }))
    }

    /// `base` (dns01's environment) less what is withheld, overlaid with `explicit` (what the
    /// caller hands this child on purpose, which always passes).
    public func environment(from base: [String: String], adding explicit: [String: String]) -> [String: String] {
        var result = base.filter { !withholds($0.key) }
        for (key, value) in explicit { result[key] = value }
        return result
    }

    /// The values of withheld variables in `base` that are secrets (named exactly, or by a
    /// prefix with a secret-looking name): what to redact from text.
    public func withheldSecrets(in base: [String: String]) -> [String] {
        base.filter { withholds($0.key) && (withheldNames.contains($0.key) || Self.looksSecret($0.key)) }.map(\.value)
    }

    /// The values of secret-looking variables this policy lets through although the base policy
    /// withholds them (a lexicon provider's own `LEXICON_<PROVIDER>_AUTH_TOKEN`).
    public func allowedSecrets(in base: [String: String]) -> [String] {
        base.filter { entry in
            (withheldNames.contains(entry.key) || withheldPrefixes.contains { entry.key.hasPrefix($0) })
                && !withholds(entry.key) && Self.looksSecret(entry.key)
        }.map(\.value)
    }

    /// Whether an environment variable's name says it holds a credential: it names a token, a
    /// secret, a password or a key, and is not a path (`_FILE`, `_PATH`, `_DIR`). Such entries of
    /// a provider's `env` table make the config a secret file, and their values are redacted.
    public static func looksSecret(_ name: String) -> Bool {
        let upper = name.uppercased()
        guard !["_FILE", "_PATH", "_DIR"].contains(where: { upper.hasSuffix($0) }) else { return false }
        return ["TOKEN", "SECRET", "PASS", "KEY", "CREDENTIAL"].contains { upper.contains($0) }
    }
}
