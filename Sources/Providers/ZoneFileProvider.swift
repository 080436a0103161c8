import Blocking
import Clocks
import DNS
import Files
import FoundationEssentials
import FoundationShim
import Glibc
import HTTP
import Logging
import Processes
import Settings

/// Writes challenge records into the zone file of a server that loads zones from files (BIND,
/// NSD, Knot without DDNS), then runs the reload command.
///
/// Every edit: takes an advisory lock (so concurrent dns01 processes never lose each other's
/// records), reads the file, adds or removes exactly dns01's lines, bumps the SOA serial, checks
/// that libldns parses the result, and replaces the file atomically keeping its mode and owner.
/// With `include_file`, the records live in a file of their own that the zone `$INCLUDE`s, and
/// only the serial of the zone file changes.
public struct ZoneFileProvider: DNSProvider {
    public static let typeName = "zonefile"

    public struct Config: Sendable {
        public var file: String
        public var includeFile: String?
        public var reloadCommand: String?
        public var ttl: UInt32
        public var timeout: Duration
        /// Which of dns01's environment variables `reload_command` does not inherit (not a config key).
        public var childEnvironment: ChildEnvironment = .inheritAll

        public static let keys: Set<String> = ["name", "type", "zones", "file", "include_file", "reload_command", "ttl", "timeout"]

        public init(_ settings: Settings) throws {
            try settings.rejectUnknownKeys(allowed: Self.keys)
            file = try settings.requiredString("file")
            guard FileSystem.exists(file) else { throw ConfigError("\(settings.context): zone file '\(file)' does not exist.") }
            guard access(file, R_OK | W_OK) == 0 else {
                throw ConfigError("\(settings.context): zone file '\(file)' is not readable and writable by this user.")
            }
            includeFile = try settings.string("include_file")
            if let includeFile {
                let text = (try? FileSystem.readText(file, limit: .zoneFile)) ?? ""
                let base = FileSystem.baseName(includeFile)
                let included = text.split(separator: "\n").contains { line in
                    let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                    guard words.count >= 2, words[0].uppercased() == "$INCLUDE" else { return false }
                    let target = words[1].trimmingCharacters { $0 == "\"" }
                    return target == includeFile || FileSystem.baseName(target) == base
                }
                guard included else {
                    throw ConfigError("\(settings.context): zone file '\(file)' has no '$INCLUDE \(includeFile)' line, so records written there would never be served.")
                }
            }
            reloadCommand = try settings.string("reload_command")
            let ttl = try settings.integer("ttl") ?? 60
            guard (0...86400).contains(ttl) else {
                throw ConfigError("\(settings.context): ttl \(ttl) is out of range (0 to 86400 seconds).")
            }
            self.ttl = UInt32(ttl)
            timeout = try settings.duration("timeout") ?? .seconds(60)
        }
    }

    public let name: String
    public let zones: [String]
    public let config: Config
    public var type: String { Self.typeName }
    private let logger: Logger

    public init(name: String, zones: [String], config: Config) {
        self.name = name
        self.zones = zones
        self.config = config
        logger = Logger(label: "dns01.provider.\(name)")
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await edit(zone: zone, code: .present) { ZoneFileEditor.adding(records, ttl: config.ttl, to: $0) }
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await edit(zone: zone, code: .cleanup) { ZoneFileEditor.removing(records, from: $0) }
    }

    private func edit(zone: String, code: ProviderError.Code, _ change: @escaping @Sendable (String) -> String) async throws {
        let config = self.config
        let label = self.label
        let name = self.name
        do {
            try await BlockingPool.shared.run {
                let lock = try FileLock(path: Self.lockPath(for: config.file))
                defer { lock.unlock() }
                try Self.rewrite(config: config, zone: zone, change: change)
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw ProviderError(code: code, provider: name, message: "\(label): \(error)")
        }
        try await reload(code: code)
    }

    /// One read-modify-write under the lock. Throws before anything is replaced if the result
    /// does not parse.
    private static func rewrite(config: Config, zone: String, change: (String) -> String) throws {
        let zoneText = try FileSystem.readText(config.file, limit: .zoneFile)
        var includeText: String?
        if let include = config.includeFile {
            let old = FileSystem.exists(include) ? try FileSystem.readText(include, limit: .zoneFile) : ""
            let new = change(old)
            if new == old { return }
            includeText = new
        }
        let changed = includeText == nil ? change(zoneText) : zoneText
        if includeText == nil && changed == zoneText { return }
        let bumped: String
        do {
            bumped = try ZoneFileEditor.bumpingSerial(in: changed).text
        } catch let error as ZoneFileEditor.EditError {
            throw ZoneFileEditor.EditError(message: "zone file \(config.file) \(error.message)")
        }
        try ZoneFileSyntax.check(try expandingIncludes(bumped, zoneFile: config.file, override: (config.includeFile, includeText)),
                                 origin: zone, source: config.file)
        if let include = config.includeFile, let includeText {
            let attributes = (try? FileSystem.attributes(include)) ?? (mode: 0o644, uid: getuid(), gid: getgid())
            try FileSystem.writeAtomically(includeText, to: include, mode: attributes.mode, owner: (attributes.uid, attributes.gid))
        }
        let attributes = try FileSystem.attributes(config.file)
        try FileSystem.writeAtomically(bumped, to: config.file, mode: attributes.mode, owner: (attributes.uid, attributes.gid))
    }

    /// The zone text with each `$INCLUDE` line replaced by the file it names (libldns does not
    /// follow `$INCLUDE`), so the check sees what the server will load. An include that cannot be
    /// read is left out of the check (the server reports it on reload); one larger than any zone
    /// file (`/dev/zero`) is an error.
    static func expandingIncludes(_ text: String, zoneFile: String, override: (path: String?, text: String?)) throws -> String {
        let directory = FileSystem.directoryName(zoneFile)
        return try text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 2, words[0].uppercased() == "$INCLUDE" else { return String(line) }
            var path = words[1].trimmingCharacters { $0 == "\"" }
            if !path.hasPrefix("/") { path = directory + "/" + path }
            if let overridePath = override.path, let overrideText = override.text,
               FileSystem.standardized(overridePath) == FileSystem.standardized(path)
                || FileSystem.baseName(overridePath) == FileSystem.baseName(path) {
                return overrideText
            }
            do {
                return try FileSystem.readText(path, limit: .zoneFile)
            } catch let error as FileSystemError where error.tooLarge {
                throw ZoneFileEditor.EditError(message: "zone file \(zoneFile) has '$INCLUDE \(words[1])', and \(path) \(error.reason.dropFirst("it ".count))")
            } catch {
                return ""
            }
        }.joined(separator: "\n")
    }

    private func reload(code: ProviderError.Code) async throws {
        guard let command = config.reloadCommand, !command.isEmpty else { return }
        let logger = self.logger
        let redactor = Redactor()
        let output = try await ProcessRunner.run("/bin/sh", arguments: ["-c", command], withholding: config.childEnvironment,
                                                 timeout: config.timeout) { _, line in
            logger.info("\(redactor.clip(line, limit: 1000))", metadata: ["command": "\(command)"])
        }
        if output.cancelled { throw CancellationError() }
        if output.timedOut {
            throw ProviderError(code: code, provider: name,
                                message: "\(label): reload command '\(command)' did not finish within \(config.timeout.configText).")
        }
        guard output.status == 0 else {
            let last = output.lastFullLine.map { ": \(redactor.clip($0, limit: ProcessRunner.Output.lastLineLimit))" } ?? " (no output)"
            throw ProviderError(code: code, provider: name,
                                message: "\(label): reload command '\(command)' exited with status \(output.status)\(last)")
        }
    }

    static func lockPath(for file: String) -> String {
        let directory = FileSystem.directoryName(file)
        let base = FileSystem.baseName(file)
        return (directory.isEmpty ? "." : directory) + "/.\(base).dns01-lock"
    }
}
