import Blocking
import DNS
import Files
import FoundationEssentials
import Glibc
import HTTP
import Logging
import Processes

/// `type = "lexicon"`: any of dns-lexicon's ~90 DNS hosts, through the `providers/lexicon`
/// bridge in batch mode: one Python process and one lexicon Client per zone and run. lexicon's
/// settings are its own `LEXICON_<PROVIDER>_<OPTION>` variables, given in the `env` table. The
/// Python comes from a virtualenv with dns-lexicon: `python` names one, else dns01 makes
/// `<state_dir>/lexicon-venv` on first use (from PyPI) and says so.
public final class LexiconProvider: DNSProvider {
    public static let typeName = "lexicon"
    /// What a first use installs.
    static let package = "dns-lexicon==3.25.2"

    public let name: String
    public let zones: [String]
    public let config: Config
    public var type: String { Self.typeName }
    public var secretValues: [String] { shell.secretValues }
    private let shell: ShellProvider
    private let logger: Logger

    public init(name: String, zones: [String], config: Config) {
        self.name = name
        self.zones = zones
        self.config = config
        shell = ShellProvider(name: name, zones: zones, config: config.shell)
        logger = Logger(label: "dns01.provider.\(name)")
    }

    public func present(_ records: [TXTRecord], zone: String) async throws {
        try await ensureVirtualenv(code: .present)
        try await relabel { try await shell.present(records, zone: zone) }
    }

    public func cleanup(_ records: [TXTRecord], zone: String) async throws {
        try await ensureVirtualenv(code: .cleanup)
        try await relabel { try await shell.cleanup(records, zone: zone) }
    }

    /// The bridge's errors, under this provider's label.
    private func relabel(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch var error as ProviderError {
            error.message = error.message.replacing(shell.label, with: label)
            throw error
        }
    }

    /// Makes the virtualenv when it has no lexicon yet; one process at a time (a lock file).
    private func ensureVirtualenv(code: ProviderError.Code) async throws {
        guard config.managedVirtualenv, !Self.hasLexicon(config.python) else { return }
        let venv = config.virtualenv
        let lockPath = venv + ".lock"
        let lock = try await BlockingPool.shared.run { () -> Result<FileLock, any Error> in
            Result { try FileLock(path: lockPath) }
        }.get()
        defer { lock.unlock() }
        guard !Self.hasLexicon(config.python) else { return }
        logger.warning("installing \(Self.package) into \(venv) for provider '\(name)' (first use; needs PyPI)")
        for (command, arguments) in [("/usr/bin/python3", ["-m", "venv", venv]),
                                     ("\(venv)/bin/pip", ["install", "--quiet", "--disable-pip-version-check", Self.package])] {
            // pip needs no credential, not even this provider's LEXICON_<PROVIDER>_*.
            var policy = config.shell.childEnvironment
            policy.allowedNames = []
            policy.allowedPrefixes = []
            let output = try await ProcessRunner.run(command, arguments: arguments, withholding: policy,
                                                     timeout: .seconds(600)) { _, _ in }
            guard output.status == 0 else {
                let last = output.lastFullLine.map { ": " + Redactor(secrets: secretValues).clip($0, limit: ProcessRunner.Output.lastLineLimit) } ?? ""
                throw ProviderError(code: code, provider: name,
                                    message: "\(label): could not install \(Self.package) into \(venv): \(command) exited with status \(output.status)\(last)")
            }
        }
    }

    static func hasLexicon(_ python: String) -> Bool {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        // The venv's site-packages holds lexicon once pip installed it.
        let lib = URL(fileURLWithPath: python).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("lib").path
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib)) ?? []
        return versions.contains { FileManager.default.fileExists(atPath: "\(lib)/\($0)/site-packages/lexicon/client.py") }
    }
}
