import ArgumentParser
import FoundationEssentials
import Glibc
import Processes

@main
struct DNS01Command: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns01",
        abstract: "Get TLS certificates from any ACME CA by solving DNS-01 challenges.",
        version: Version.description,
        subcommands: [IssueCommand.self, RunCommand.self, CheckCommand.self, CertbotCommand.self, HookCommand.self, AccountCommand.self, RevokeCommand.self, PersistCommand.self, CertificatesCommand.self, SyncCommand.self, StorageCommand.self, ServeCommand.self]
    )

    /// ArgumentParser's own entry point, except that usage errors exit 2 (DESIGN.md: 2 for
    /// usage and configuration) instead of sysexits' 64.
    static func main() async {
        // A run of thousands of certificates holds a lock file for each (systemd's soft limit is 1024).
        OpenFileLimit.raiseToHardLimit()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            guard code.rawValue == 64 else { exit(withError: error) }
            let bytes = Array((fullMessage(for: error) + "\n").utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            Glibc.exit(2)
        }
    }
}
