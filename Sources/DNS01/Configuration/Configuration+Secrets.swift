import Files
import HTTP
import Processes
import Providers
import Settings

/// Where the config's secrets may go (DESIGN.md, "Secrets"): which of dns01's environment
/// variables hold credentials, so that no child process inherits one it does not need; and
/// which secrets the config itself holds, so that it is held to the secret-file rule.
extension Configuration {
    /// The AWS keys, when a route53 provider takes them from the environment.
    static let awsVariables: Set<String> = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]

    /// The variables dns01 reads credentials from, withheld from every child (hooks, notify,
    /// shell providers, reload commands, the lexicon bridge) but the one provider that uses them:
    /// the variable every `*_env` key names (`api_token_env`), the AWS keys when a route53
    /// provider reads them from the environment (no `credentials_file` or `profile`), libpq's
    /// `PG*` with `[storage] type = "postgres"`, and `LEXICON_*` (a lexicon provider gets its
    /// own `LEXICON_<PROVIDER>_*`). Everything else passes on.
    static func childEnvironment(_ top: Settings) throws -> ChildEnvironment {
        var names = Set<String>()
        func collect(_ value: SettingValue) {
            switch value {
            case .table(let table):
                for (key, item) in table {
                    if key.hasSuffix("_env"), case .string(let variable) = item, !variable.isEmpty { names.insert(variable) }
                    collect(item)
                }
            case .array(let items):
                items.forEach(collect)
            default:
                break
            }
        }
        collect(.table(top.values))
        for provider in try arrayOfTables(top, "provider") {
            guard provider.values["type"] == .string(Route53Provider.typeName) else { continue }
            if !provider.has("credentials_file") && !provider.has("profile") { names.formUnion(awsVariables) }
        }
        var prefixes: Set<String> = ["LEXICON_"]
        if case .table(let storage)? = top.values["storage"], storage["type"] == .string(StorageSettings.Kind.postgres.rawValue) {
            prefixes.insert("PG")
        }
        return ChildEnvironment(withholding: names, prefixes: prefixes)
    }

    /// The `env` entries of `[[provider]]` tables whose names say they hold credentials
    /// (`ChildEnvironment.looksSecret`), as "[[provider]] 'x' env NAME".
    static func inlineSecrets(_ top: Settings) throws -> [String] {
        try arrayOfTables(top, "provider").flatMap { provider -> [String] in
            guard case .table(let env)? = provider.values["env"] else { return [] }
            return env.keys.filter(ChildEnvironment.looksSecret).sorted().map { "\(provider.context) env \($0)" }
        }
    }

    /// A config holding secrets is a secret file: neither group nor others may read it (the rule
    /// of `SecretFile`, as for token files and `url_file`).
    func checkSecretsAtRest() throws {
        guard let first = inlineSecrets.first else { return }
        try SecretFile.checkMode(path, context: first, what: "config", why: ", which holds this secret,")
    }
}
