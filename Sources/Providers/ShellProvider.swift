import Clocks
import DNS
import Files
import FoundationEssentials
import Glibc
import HTTP
import Logging
import Processes
import Settings

/// Writes challenge records by running a command (lego's exec provider contract):
///
///     COMMAND present|cleanup FQDN VALUE
///
/// with `DNS01_ACTION`, `DNS01_FQDN`, `DNS01_VALUE`, `DNS01_ZONE`, `DNS01_TTL` and the provider's
/// `env` table in the environment. FQDN carries a trailing dot, as lego passes it. With
/// `batch = true` the command runs once per zone as `COMMAND present|cleanup` with every record
/// as a JSON line on stdin (`{"fqdn":…,"value":…,"zone":…,"ttl":…}`) and `DNS01_BATCH=1`.
/// Per-record calls for one zone run one after another, so a script's read-modify-write of a
/// zone never races itself.
public struct ShellProvider: DNSProvider {
    public static let typeName = "shell"

    public struct Config: Sendable {
        public var command: String
        /// Runs `command` as this program's first argument (the lexicon bridge under a
        /// virtualenv's Python); not a config key.
        public var interpreter: String?
        public var environment: [String: String]
        public var batch: Bool
        public var timeout: Duration
        public var ttl: UInt32
        /// Which of dns01's environment variables the command does not inherit (set from the
        /// config's `Configuration.childEnvironment`; not a config key).
        public var childEnvironment: ChildEnvironment = .inheritAll

        /// The `env` entries whose names say they hold credentials (`ChildEnvironment.looksSecret`).
        public var secretEnvironmentNames: [String] { environment.keys.filter(ChildEnvironment.looksSecret).sorted() }

        /// Secret `env` values, and the secret variables of dns01's environment this command
        /// alone is let through: redacted from whatever the command says.
        public var secretValues: [String] {
            secretEnvironmentNames.compactMap { environment[$0] } + childEnvironment.allowedSecrets(in: ProcessInfo.processInfo.environment)
        }

        public static let keys: Set<String> = ["name", "type", "zones", "command", "env", "batch", "timeout", "ttl"]

        public init(_ settings: Settings) throws {
            try settings.rejectUnknownKeys(allowed: Self.keys)
            let command = try settings.requiredString("command")
            guard command.hasPrefix("/") || command.hasPrefix(".") else {
                throw ConfigError("\(settings.context): command '\(command)' must be a path to an executable file (arguments go in the script, secrets in env).")
            }
            guard FileSystem.exists(command), !FileSystem.isDirectory(command) else {
                throw ConfigError("\(settings.context): command '\(command)' does not exist.")
            }
            guard access(command, X_OK) == 0 else {
                throw ConfigError("\(settings.context): command '\(command)' is not executable.")
            }
            self.command = command
            environment = try settings.stringTable("env") ?? [:]
            if let bad = environment.keys.sorted().first(where: { !Self.isEnvironmentName($0) }) {
                throw ConfigError("\(settings.context): env key '\(bad)' is not a valid environment variable name.")
            }
            batch = try settings.bool("batch") ?? false
            timeout = try settings.duration("timeout") ?? .seconds(60)
            guard timeout > .zero else { throw ConfigError("\(settings.context): timeout must be more than 0s.") }
            let ttl = try settings.integer("ttl") ?? 60
            guard (0...86400).contains(ttl) else {
                throw ConfigError("\(settings.context): ttl \(ttl) is out of range (0 to 86400 seconds).")
            }
            self.ttl = UInt32(ttl)
        }

        static func isEnvironmentName(_ name: String) -> Bool {
            guard let first = name.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
            return name.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
        }
    }

    public let name: String
    public let zones: [String]
    public let config: Config
    public var type: String { Self.typeName }
    public var secretValues: [String] { config.secretValues }
    private let logger: Logger
    private let redactor: Redactor

    public init(name: String, zones: [String], config: Config) {
        self.name = name
        self.zones = zones
        self.config = config
        logger = Logger(label: "dns01.provider.\(name)")
        redactor = Redactor(secrets: config.secretValues)
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await perform("present", records, zone: zone, code: .present)
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await perform("cleanup", records, zone: zone, code: .cleanup)
    }

    private func perform(_ action: String, _ records: [TXTRecord], zone: String, code: ProviderError.Code) async throws {
        guard !records.isEmpty else { return }
        var base = config.environment
        base["DNS01_ACTION"] = action
        base["DNS01_ZONE"] = zone + "."
        base["DNS01_TTL"] = String(config.ttl)
        if config.batch {
            base["DNS01_BATCH"] = "1"
            let lines = records.map { record in
                #"{"fqdn":\#(jsonString(record.name + ".")),"value":\#(jsonString(record.value)),"zone":\#(jsonString(zone + ".")),"ttl":\#(config.ttl)}"#
            }
            try await call([action], environment: base, input: lines.joined(separator: "\n") + "\n",
                           what: "\(action) (batch of \(records.count) in \(zone))", code: code)
        } else {
            for record in records {
                var environment = base
                environment["DNS01_FQDN"] = record.name + "."
                environment["DNS01_VALUE"] = record.value
                try await call([action, record.name + ".", record.value], environment: environment, input: nil,
                               what: "\(action) \(record.name).", code: code)
            }
        }
    }

    private func call(_ arguments: [String], environment: [String: String], input: String?, what: String, code: ProviderError.Code) async throws {
        let logger = self.logger, redactor = self.redactor
        let command = config.command
        let output: ProcessRunner.Output
        do {
            output = try await ProcessRunner.run(config.interpreter ?? command, arguments: (config.interpreter == nil ? [] : [command]) + arguments,
                                                 environment: environment, withholding: config.childEnvironment, input: input,
                                                 timeout: config.timeout) { stream, line in
                // The command's output is untrusted text (STYLE.md 20): redacted, one clipped line.
                logger.info("\(redactor.clip(line, limit: 1000))", metadata: ["stream": "\(stream == .stdout ? "stdout" : "stderr")", "command": "\(command)"])
            }
        } catch {
            throw ProviderError(code: code, provider: name, message: "\(label): \(redactor(String(describing: error)))")
        }
        if output.timedOut {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): \(command) \(what) did not finish within \(config.timeout.configText) and was killed.")
        }
        if output.cancelled {
            throw CancellationError()
        }
        guard output.status == 0 else {
            let last = output.lastFullLine.map { ": \(redactor.clip($0, limit: ProcessRunner.Output.lastLineLimit))" } ?? " (no output)"
            throw ProviderError(code: code, provider: name,
                                message: "\(label): \(command) \(what) exited with status \(output.status)\(last)")
        }
    }

    private func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

