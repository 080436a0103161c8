import ACME
import DNS
import Files
import FoundationEssentials
import FoundationShim
import Glibc
import HTTP
import Processes
import Providers
import Settings

/// The whole dns01 configuration (DESIGN.md, "Config (TOML)"), validated: every later step can
/// rely on it, and every fault is found before the CA or a DNS server is contacted.
public struct Configuration: Sendable {
    public struct ACME: Sendable {
        public var directory: String
        public var caBundle: String?
        public var email: String?
        public var agreeTOS: Bool
        public var stateDir: String
        /// Orders created at once by `dns01 run`.
        public var concurrency: Int
        /// Type of a newly generated account key.
        public var accountKeyType: AccountKeyType
        /// An existing account key to use (certbot's, acme-tiny's) instead of state_dir's.
        public var accountKeyFile: String?
        /// External account binding: the CA's key id and the file holding its MAC key.
        public var eabKeyID: String?
        public var eabHMACKeyFile: String?
        /// Issuer common name of the chain to prefer among the CA's alternates.
        public var preferredChain: String?
        /// How long the CA may take to validate an order's challenges, and again to issue it
        /// once finalized (`order_timeout`, default 300 s); an order still pending or
        /// processing then fails.
        public var orderTimeout: Duration = .seconds(300)
        /// `staging_directory`: the CA `dns01 run --dry-run` rehearses against (nil: see
        /// `dryRunDirectory`).
        public var stagingDirectory: String? = nil
        /// `max_new_orders = "300/3h"`: at most `count` new orders within any `window` (a
        /// sliding one, counted in `NewOrderLedger`); a run leaves the rest for a later one.
        public var maxNewOrders: NewOrderBudget? = nil
    }

    /// N new orders per duration (`[acme] max_new_orders`).
    public struct NewOrderBudget: Sendable, Equatable {
        public var count: Int
        public var window: Duration
        /// As configured ("300/3h").
        public var text: String

        /// "300/3h"; throws the sentence saying what is wrong.
        public static func parse(_ text: String) throws -> NewOrderBudget {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let count = Int(parts[0].trimmingWhitespace()), (1...1_000_000).contains(count),
                  let window = Settings.parseDuration(String(parts[1])), window >= .seconds(1) else {
                throw ConfigError("[acme]: max_new_orders '\(text)' is not a number of orders (1 to 1000000) per duration, such as \"300/3h\".")
            }
            return NewOrderBudget(count: count, window: window, text: text)
        }
    }

    public struct DNSSettings: Sendable {
        /// Recursive resolvers for SOA, NS and CNAME discovery.
        public var resolvers: [DNSServer]
        public var propagationTimeout: Duration
        public var pollInterval: Duration
        /// Port for authoritative queries to discovered nameservers.
        public var port: UInt16
        /// Also require the configured resolvers to see the values.
        public var alsoCheckResolvers: Bool
    }

    public struct CertificateSpec: Sendable {
        public var name: String
        public var domains: [String]
        public var keyType: KeyType
        public var provider: String?
        public var deployHook: String?
        /// How long before notAfter to renew; nil: by the certificate's lifetime (`RenewalPlan.renewalTime`).
        public var renewBefore: Duration?
        /// Certificate profile (draft-ietf-acme-profiles) to request, when the CA lists it.
        public var profile: String?
        /// More providers after `provider` (`provider = ["a", "b"]`): every record is written
        /// through each, and removed through each.
        public var alsoProviders: [String] = []
        /// `placeholder = true`: a self-signed certificate goes into live/ at once when there is
        /// none, so a web server can start before the CA answers (`CertificateStore+Placeholder`).
        public var placeholder = false
        /// How long `dns01 run` keeps retrying after the first failure of a streak before it
        /// gives up on the certificate (`RunHistory.retry`), until `--force` or a success.
        public var giveUpAfter: Duration = Configuration.defaultGiveUpAfter
        /// `challenge`: the one challenge type to use; nil: dns-persist-01 when the CA offers it
        /// and a matching record is served, else dns-01.
        public var challenge: ChallengeKind? = nil
        /// Not from the config: `dns01 issue` obtained it at this time and recorded it for
        /// `dns01 run` to renew (`IssuedRecord`); nil for a `[[certificate]]`.
        public var issuedByHand: Date? = nil
    }

    /// `give_up_after` when a [[certificate]] does not set it.
    public static let defaultGiveUpAfter = Duration.seconds(86400)

    /// Where the configuration was read from.
    public var path: String
    public var acme: ACME
    public var dns: DNSSettings
    public var providers: [any DNSProvider]
    /// `[[zone]]` nameserver overrides, by zone.
    public var zoneNameservers: [String: [DNSServer]]
    /// `[[zone]] provider`: the providers that write every record of the zone, by zone.
    public var zoneProviders: [String: [String]] = [:]
    /// Providers with `single_value = true`: they hold one TXT value per name, so a wildcard
    /// and its apex are validated one after the other.
    public var singleValueProviders: Set<String> = []
    public var certificates: [CertificateSpec]
    /// `[metrics]`: the Prometheus textfile written after each `dns01 run`; nil without the section.
    public var metrics: MetricsSettings? = nil
    /// `[notify]`: the command run when a certificate fails (or is issued, or nears expiry); nil without the section.
    public var notify: NotifySettings? = nil
    /// `[storage]`: the state directory alone (default) or shared through PostgreSQL.
    public var storage = StorageSettings()
    /// `[serve]`: `dns01 serve`'s listener and registrations' zone; nil without the section.
    public var serve: ServeSettings? = nil
    /// Which of dns01's environment variables hooks and providers' programs do not inherit
    /// (`Configuration+Secrets`).
    public var childEnvironment = ChildEnvironment.inheritAll
    /// Takes every configured secret out of text a provider, hook or bridge returns.
    public var redactor = Redactor()
    /// The config's own secrets (`env` entries that name credentials), as "[[provider]] 'x' env
    /// NAME": a config holding any must be a secret file (`load`).
    public var inlineSecrets: [String] = []

    /// DESIGN.md: `-c`, then `$DNS01_CONFIG`, then `./dns01.toml`, then `/etc/dns01/dns01.toml`.
    public static func locate(explicit: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let fromEnvironment = environment["DNS01_CONFIG"], !fromEnvironment.isEmpty { return fromEnvironment }
        for candidate in ["./dns01.toml", "/etc/dns01/dns01.toml"] where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        throw ConfigError("No configuration file: give -c FILE, set DNS01_CONFIG, or create ./dns01.toml or /etc/dns01/dns01.toml.")
    }

    /// `requiresCA`: false for the commands that only touch DNS (certbot hooks, `check`), which
    /// need no `[acme] directory`; `[acme] state_dir` still says where their state goes.
    public static func load(path: String, requiresCA: Bool = true) throws -> Configuration {
        let text: String
        do {
            text = try FileSystem.readText(path, limit: .configuration)
        } catch let error as FileSystemError {
            throw ConfigError("Cannot read the configuration file \(path): \(error.reason).")
        }
        let configuration = try parse(text, path: path, requiresCA: requiresCA)
        try configuration.checkSecretsAtRest()
        return configuration
    }

    public static func parse(_ text: String, path: String, requiresCA: Bool = true) throws -> Configuration {
        let root = try TOMLReader.read(text, path: path)
        let top = Settings(context: path, values: root)
        try top.rejectUnknownKeys(allowed: ["acme", "dns", "provider", "zone", "certificate", "metrics", "notify", "storage", "serve"])

        let acme = try parseACME(section(top, "acme", required: requiresCA), path: path, requiresCA: requiresCA)
        let dns = try parseDNS(section(top, "dns", required: false))
        let childEnvironment = try Self.childEnvironment(top)
        var providers: [any DNSProvider] = []
        var singleValue: Set<String> = []
        for var settings in try arrayOfTables(top, "provider") {
            // A property of the DNS host, not of the provider's code: read here for every type.
            let oneValue = try settings.bool("single_value") ?? false
            var values = settings.values
            values["single_value"] = nil
            settings = Settings(context: settings.context, values: values)
            let provider = try ProviderRegistry.make(settings, stateDir: acme.stateDir, childEnvironment: childEnvironment)
            if oneValue { singleValue.insert(provider.name) }
            if providers.contains(where: { $0.name == provider.name }) {
                throw ConfigError("\(path): two [[provider]] entries are named '\(provider.name)'.")
            }
            providers.append(provider)
        }
        var zoneNameservers: [String: [DNSServer]] = [:]
        var zoneProviders: [String: [String]] = [:]
        for settings in try arrayOfTables(top, "zone") {
            try settings.rejectUnknownKeys(allowed: ["name", "nameservers", "provider"])
            let zone = try normalizeZone(try settings.requiredString("name"), context: settings.context)
            let named = try providerList(settings, context: "\(settings.context) '\(zone)'", providers: providers)
            if !named.isEmpty { zoneProviders[zone] = named }
            guard settings.has("nameservers") || named.isEmpty else { continue }
            let servers = try (settings.strings("nameservers") ?? []).map { text in
                do { return try DNSServer(parsing: text, defaultPort: dns.port) } catch {
                    throw ConfigError("\(settings.context) '\(zone)': nameserver '\(text)' is not an address with an optional port.")
                }
            }
            guard !servers.isEmpty else { throw ConfigError("\(settings.context) '\(zone)': key 'nameservers' must list at least one address.") }
            zoneNameservers[zone] = servers
        }
        var certificates: [CertificateSpec] = []
        for settings in try arrayOfTables(top, "certificate") {
            let spec = try parseCertificate(settings, providers: providers)
            if certificates.contains(where: { $0.name == spec.name }) {
                throw ConfigError("\(path): two [[certificate]] entries are named '\(spec.name)'.")
            }
            certificates.append(spec)
        }
        var configuration = Configuration(path: path, acme: acme, dns: dns, providers: providers,
                             zoneNameservers: zoneNameservers, zoneProviders: zoneProviders,
                             singleValueProviders: singleValue, certificates: certificates,
                             metrics: top.has("metrics") ? try MetricsSettings.parse(section(top, "metrics", required: true)) : nil,
                             notify: top.has("notify") ? try NotifySettings.parse(section(top, "notify", required: true)) : nil)
        if top.has("storage") { configuration.storage = try StorageSettings.parse(section(top, "storage", required: true)) }
        if top.has("serve") {
            configuration.serve = try ServeSettings.parse(section(top, "serve", required: true), providers: providers.map(\.name))
        }
        configuration.childEnvironment = childEnvironment
        configuration.inlineSecrets = try Self.inlineSecrets(top)
        configuration.redactor = Redactor(secrets: providers.flatMap { $0.secretValues }
                                          + childEnvironment.withheldSecrets(in: ProcessInfo.processInfo.environment))
        return configuration
    }

    /// `provider = "a"` or `provider = ["a", "b"]`, each a configured [[provider]].
    static func providerList(_ settings: Settings, context: String, providers: [any DNSProvider]) throws -> [String] {
        let names: [String]
        switch settings.values["provider"] {
        case nil: return []
        case .string(let name)?: names = [name]
        default: names = try settings.strings("provider") ?? []
        }
        for name in names where !providers.contains(where: { $0.name == name }) {
            throw ConfigError("\(context): provider '\(name)' is not a configured [[provider]].")
        }
        guard Set(names).count == names.count else { throw ConfigError("\(context): provider lists a provider twice.") }
        guard !names.isEmpty else { throw ConfigError("\(context): provider must name at least one [[provider]].") }
        return names
    }

    private static func parseACME(_ settings: Settings, path: String, requiresCA: Bool) throws -> ACME {
        try settings.rejectUnknownKeys(allowed: ["directory", "ca_bundle", "email", "agree_tos", "state_dir", "concurrency",
                                                 "account_key_type", "account_key_file", "eab_kid", "eab_hmac_key_file",
                                                 "preferred_chain", "order_timeout", "staging_directory", "max_new_orders"])
        // Without a CA to talk to (hook modes), an absent directory is never used.
        let directory = requiresCA || settings.has("directory") ? try settings.requiredString("directory") : ""
        if requiresCA || !directory.isEmpty {
            guard let url = URL(string: directory), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw ConfigError("[acme]: directory '\(directory)' is not an http(s) URL.")
            }
        }
        // The files only the CA's commands read are checked only for them: a certbot hook runs
        // with whatever the [acme] section says about a CA it never talks to.
        let caBundle = try readableFile(settings, "ca_bundle", check: requiresCA)
        if let caBundle, requiresCA {
            // libcurl reads it for every connection: make sure first that it ends.
            do { _ = try FileSystem.readBytes(caBundle, limit: .caBundle) } catch let error as FileSystemError {
                throw ConfigError("[acme]: ca_bundle '\(caBundle)' cannot be read: \(error.reason).")
            }
        }
        let concurrency = try settings.integer("concurrency") ?? 16
        guard (1...256).contains(concurrency) else { throw ConfigError("[acme]: concurrency \(concurrency) is out of range (1 to 256).") }
        let keyText = try settings.string("account_key_type") ?? AccountKeyType.ec256.rawValue
        guard let accountKeyType = AccountKeyType(rawValue: keyText) else {
            throw ConfigError("[acme]: account_key_type '\(keyText)' is not one of \(AccountKeyType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let accountKeyFile = try readableFile(settings, "account_key_file", check: requiresCA)
        let eabKeyID = try settings.string("eab_kid"), eabHMACKeyFile = try settings.string("eab_hmac_key_file")
        if (eabKeyID == nil) != (eabHMACKeyFile == nil) {
            throw ConfigError("[acme]: eab_kid and eab_hmac_key_file go together; set both or neither.")
        }
        _ = try readableFile(settings, "eab_hmac_key_file", check: requiresCA)
        let orderTimeout = try settings.duration("order_timeout") ?? .seconds(300)
        guard orderTimeout >= .seconds(1), orderTimeout <= .seconds(86400) else {
            throw ConfigError("[acme]: order_timeout must be between 1s and 24h.")
        }
        let staging = try settings.string("staging_directory")
        if let staging {
            guard let url = URL(string: staging), url.scheme == "https" || url.scheme == "http", url.host != nil else {
                throw ConfigError("[acme]: staging_directory '\(staging)' is not an http(s) URL.")
            }
        }
        let maxNewOrders = try settings.string("max_new_orders").map(NewOrderBudget.parse)
        return ACME(directory: directory, caBundle: caBundle, email: try settings.string("email"),
                    agreeTOS: try settings.bool("agree_tos") ?? false,
                    stateDir: try stateDirectory(settings, path: path),
                    concurrency: concurrency, accountKeyType: accountKeyType, accountKeyFile: accountKeyFile,
                    eabKeyID: eabKeyID, eabHMACKeyFile: eabHMACKeyFile, preferredChain: try settings.string("preferred_chain"),
                    orderTimeout: orderTimeout, stagingDirectory: staging, maxNewOrders: maxNewOrders)
    }

    /// `[acme] state_dir`: never empty (as root, "" would put accounts/ and live/ at the
    /// filesystem root); a relative path is taken from the configuration file's directory, so
    /// the state does not move with the working directory of cron or systemd.
    static func stateDirectory(_ settings: Settings, path: String) throws -> String {
        guard let text = try settings.string("state_dir") else { return "/var/lib/dns01" }
        guard !text.trimmingWhitespace().isEmpty else {
            throw ConfigError("[acme]: state_dir must not be empty (leave it out for /var/lib/dns01).")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw ConfigError("[acme]: state_dir contains a control character.")
        }
        if text.hasPrefix("/") { return text }
        var base = FileSystem.directoryName(path)
        if !base.hasPrefix("/") {
            let working = FileManager.default.currentDirectoryPath
            base = base.isEmpty ? working : working + "/" + base
        }
        return base + "/" + text
    }

    /// An [acme] key naming a file dns01 must be able to read, or nil when unset.
    private static func readableFile(_ settings: Settings, _ key: String, check: Bool = true) throws -> String? {
        guard let path = try settings.string(key) else { return nil }
        guard check else { return path }
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw ConfigError("[acme]: \(key) '\(path)' is not a readable file.")
        }
        return path
    }

    private static func parseDNS(_ settings: Settings) throws -> DNSSettings {
        try settings.rejectUnknownKeys(allowed: ["resolvers", "propagation_timeout", "poll_interval", "port", "also_check_resolvers"])
        let port = try settings.integer("port") ?? 53
        guard (1...65535).contains(port) else { throw ConfigError("[dns]: port \(port) is out of range (1 to 65535).") }
        let resolvers: [DNSServer]
        if let texts = try settings.strings("resolvers") {
            resolvers = try texts.map { text in
                do { return try DNSServer(parsing: text) } catch {
                    throw ConfigError("[dns]: resolver '\(text)' is not an address with an optional port.")
                }
            }
        } else {
            do {
                resolvers = try DNSServer.systemResolvers(resolvConf: FileSystem.readText("/etc/resolv.conf", limit: .system))
            } catch {
                throw ConfigError("[dns]: no resolvers configured and /etc/resolv.conf lists none usable; set [dns] resolvers.")
            }
        }
        guard !resolvers.isEmpty else { throw ConfigError("[dns]: resolvers must list at least one address.") }
        let timeout = try settings.duration("propagation_timeout") ?? .seconds(300)
        let interval = try settings.duration("poll_interval") ?? .seconds(1)
        guard interval >= .milliseconds(50) else { throw ConfigError("[dns]: poll_interval must be at least 50ms.") }
        return DNSSettings(resolvers: resolvers, propagationTimeout: timeout, pollInterval: interval,
                           port: UInt16(port), alsoCheckResolvers: try settings.bool("also_check_resolvers") ?? false)
    }

    private static func parseCertificate(_ settings: Settings, providers: [any DNSProvider]) throws -> CertificateSpec {
        try settings.rejectUnknownKeys(allowed: ["name", "domains", "key_type", "provider", "deploy_hook", "renew_before", "profile",
                                                 "placeholder", "give_up_after", "challenge"])
        guard let domains = try settings.strings("domains"), !domains.isEmpty else {
            throw ConfigError("\(settings.context): key 'domains' must list at least one name.")
        }
        let names = try IdentifierList.normalize(domains)
        let given = try settings.string("name")
        let name = given ?? IdentifierList.defaultCertName(for: names)
        if given == nil, name.count > CertificateStore.maximumCertNameLength {
            throw ConfigError("\(settings.context): the certificate's default name, its first name '\(name)', is \(name.count) characters long, more than the \(CertificateStore.maximumCertNameLength) of a certificate name: set a shorter `name`.")
        }
        try CertificateStore.validateCertName(name)
        let keyText = try settings.string("key_type") ?? KeyType.ec256.rawValue
        guard let keyType = KeyType(rawValue: keyText) else {
            throw ConfigError("[[certificate]] '\(name)': key_type '\(keyText)' is not one of \(KeyType.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let named = try providerList(settings, context: "[[certificate]] '\(name)'", providers: providers)
        var challenge: ChallengeKind?
        if let text = try settings.string("challenge") {
            guard let kind = ChallengeKind(rawValue: text) else {
                throw ConfigError("[[certificate]] '\(name)': challenge '\(text)' is not one of \(ChallengeKind.allCases.map(\.rawValue).joined(separator: ", ")).")
            }
            challenge = kind
            do {
                for identifier in names { try IdentifierList.requireRoom(identifier, challenge: kind) }
            } catch let error as DNSError {
                throw ConfigError("[[certificate]] '\(name)': \(error.message)")
            }
        }
        return CertificateSpec(name: name, domains: names, keyType: keyType, provider: named.first,
                               deployHook: try settings.string("deploy_hook"),
                               renewBefore: try settings.duration("renew_before"),
                               profile: try settings.string("profile"), alsoProviders: Array(named.dropFirst()),
                               placeholder: try settings.bool("placeholder") ?? false,
                               giveUpAfter: try settings.duration("give_up_after") ?? defaultGiveUpAfter,
                               challenge: challenge)
    }

    private static func section(_ top: Settings, _ key: String, required: Bool) throws -> Settings {
        guard let value = top.values[key] else {
            if required { throw ConfigError("\(top.context): section [\(key)] is missing.") }
            return Settings(context: "[\(key)]", values: [:])
        }
        guard case .table(let table) = value else { throw ConfigError("\(top.context): [\(key)] must be a table.") }
        return Settings(context: "[\(key)]", values: table)
    }

    static func arrayOfTables(_ top: Settings, _ key: String) throws -> [Settings] {
        guard let value = top.values[key] else { return [] }
        guard case .array(let items) = value else { throw ConfigError("\(top.context): [[\(key)]] must be an array of tables.") }
        return try items.enumerated().map { index, item in
            guard case .table(let table) = item else { throw ConfigError("\(top.context): [[\(key)]] must be an array of tables.") }
            var label = "[[\(key)]] #\(index + 1)"
            if case .string(let name)? = table["name"] { label = "[[\(key)]] '\(name)'" }
            return Settings(context: label, values: table)
        }
    }

    static func normalizeZone(_ zone: String, context: String) throws -> String {
        do { return try DomainName.normalizeIDN(zone, allowUnderscore: true) } catch {
            throw ConfigError("\(context): zone '\(zone)' is not a valid DNS name.")
        }
    }

    /// The provider for `name`: the one whose `zones` has the longest suffix match, or the one
    /// named `preferred` when given. nil when none serves the name.
    public func provider(for name: String, preferred: String? = nil) -> (any DNSProvider)? {
        if let preferred { return providers.first { $0.name == preferred } }
        var best: (provider: any DNSProvider, length: Int)?
        for provider in providers {
            for zone in provider.zones where DomainName.isSubdomain(name, of: zone) {
                if zone.count > best?.length ?? -1 { best = (provider, zone.count) }
            }
        }
        return best?.provider
    }
}


extension Configuration {
    /// The zone finder of this config's `[dns]` and `[[zone]]` settings: the one construction,
    /// for the deployer and the dns-persist-01 lookup alike.
    public func makeZoneFinder() -> ZoneFinder {
        ZoneFinder(client: DNSClient(), resolvers: dns.resolvers, nameserverPort: dns.port, overrides: zoneNameservers)
    }
}
