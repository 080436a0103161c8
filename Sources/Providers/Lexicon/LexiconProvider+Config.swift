import FoundationEssentials
import Glibc
import Processes
import Settings

extension LexiconProvider {
    /// `[[provider]] type = "lexicon"`, validated (STYLE.md 7).
    public struct Config: Sendable {
        public var lexiconProvider: String
        /// The Python that runs the bridge (a virtualenv's, with dns-lexicon).
        public var python: String
        public var virtualenv: String
        /// dns01 made (or makes) the virtualenv, rather than the user naming a Python.
        public var managedVirtualenv: Bool
        /// The bridge as a batch-mode shell provider.
        var shell: ShellProvider.Config

        /// The bridge gets dns01's environment less `policy`'s variables, but with this
        /// provider's own `LEXICON_<PROVIDER>_*` (other lexicon providers' stay withheld).
        public mutating func withhold(_ policy: ChildEnvironment) {
            shell.childEnvironment = policy.allowing(prefixes: ["LEXICON_\(lexiconProvider.uppercased())_"])
        }

        /// The `env` entries whose names say they hold credentials.
        public var secretEnvironmentNames: [String] { shell.secretEnvironmentNames }

        public static let keys: Set<String> = ["name", "type", "zones", "lexicon_provider", "env", "python", "command", "timeout", "ttl"]
        /// Where the bridge is installed by the package; the repository's copy otherwise.
        static let installedBridge = "/usr/lib/dns01/providers/lexicon"

        public init(_ settings: Settings, stateDir: String) throws {
            try settings.rejectUnknownKeys(allowed: Self.keys)
            lexiconProvider = try settings.requiredString("lexicon_provider")
            guard lexiconProvider.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }) else {
                throw ConfigError("\(settings.context): lexicon_provider '\(lexiconProvider)' is not a lexicon provider name (like \"powerdns\", \"ovh\").")
            }
            var environment = try settings.stringTable("env") ?? [:]
            let prefix = "LEXICON_\(lexiconProvider.uppercased())_"
            if let stray = environment.keys.sorted().first(where: { !$0.hasPrefix("LEXICON_") }) {
                throw ConfigError("\(settings.context): env key '\(stray)' is not a lexicon setting (they are named \(prefix)OPTION).")
            }
            environment["LEXICON_PROVIDER"] = lexiconProvider
            if let python = try settings.string("python") {
                self.python = python
                virtualenv = URL(fileURLWithPath: python).deletingLastPathComponent().deletingLastPathComponent().path
                managedVirtualenv = false
                guard FileManager.default.isExecutableFile(atPath: python) else {
                    throw ConfigError("\(settings.context): python '\(python)' is not an executable file.")
                }
            } else {
                virtualenv = "\(stateDir)/lexicon-venv"
                python = "\(virtualenv)/bin/python"
                managedVirtualenv = true
            }
            let command = try settings.string("command") ?? Self.bridge()
            var values = settings.values
            for key in ["lexicon_provider", "python"] { values[key] = nil }
            values["command"] = .string(command)
            values["batch"] = .bool(true)
            values["env"] = .table(environment.mapValues { .string($0) })
            if values["timeout"] == nil { values["timeout"] = .string("120s") }
            shell = try ShellProvider.Config(Settings(context: settings.context, values: values))
            shell.interpreter = python
        }

        /// The installed bridge, else the one beside the executable's repository checkout.
        static func bridge() -> String {
            if FileManager.default.isExecutableFile(atPath: installedBridge) { return installedBridge }
            var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "/").resolvingSymlinksInPath().deletingLastPathComponent()
            while url.path != "/" {
                let candidate = url.appendingPathComponent("providers/lexicon").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                url.deleteLastPathComponent()
            }
            return installedBridge
        }
    }
}
